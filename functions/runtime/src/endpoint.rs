//! Which endpoint a function binary serves. Token and media functions are different types, so a
//! token function's binary never references the S3 client (link-time optimisation drops it).

/// An endpoint of the token API (DynamoDB only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenEndpoint {
    /// `POST /upload-tokens`.
    CreateToken,
    /// `GET /upload-tokens`.
    ListTokens,
    /// `GET /upload-tokens/{token}`.
    GetToken,
    /// `DELETE /upload-tokens/{token}`.
    DeleteToken,
    /// `POST /auth/api-key` and `POST /auth/refresh`.
    Auth,
}

/// A video endpoint (API-key authenticated; DynamoDB, S3 and the signing secret).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoEndpoint {
    /// `GET /videos/{videoId}`.
    Get,
    /// `PATCH /videos/{videoId}`.
    Update,
    /// `DELETE /videos/{videoId}`.
    Delete,
    /// `GET /videos/{videoId}/status`.
    Status,
}

/// An endpoint that reads or writes uploaded bytes (DynamoDB and S3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaEndpoint {
    /// `POST /upload` and its `OPTIONS` preflight: upload-token authenticated, so it never
    /// reads the signing secret.
    Upload,
    /// A video endpoint.
    Video(VideoEndpoint),
}
