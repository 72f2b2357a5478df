//! The access-token signing secret of a local installation.

use crate::LocalError;
use std::path::Path;
use upload_tokens_core::auth::SigningKey;

/// Environment variable that, when set, is the secret (same name as on Lambda).
pub const SIGNING_SECRET_ENV: &str = "SIGNING_SECRET";
const FILE: &str = "signing-secret";

/// The secret from `SIGNING_SECRET`, else from `<data dir>/signing-secret`, created on first use
/// (mode 0600) so access tokens survive restarts.
pub fn load_or_create(data_dir: &Path) -> Result<SigningKey, LocalError> {
    if let Ok(secret) = std::env::var(SIGNING_SECRET_ENV) {
        return SigningKey::new(secret.into_bytes()).ok_or_else(|| {
            LocalError::Usage(format!("{SIGNING_SECRET_ENV} must be at least 32 bytes"))
        });
    }
    let path = data_dir.join(FILE);
    let io = |source| LocalError::DataDir {
        path: path.clone(),
        source,
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let text = SigningKey::generate_text();
            crate::project::write_private(&path, text.as_bytes()).map_err(io)?;
            text
        }
        Err(e) => return Err(io(e)),
    };
    SigningKey::new(text.trim().as_bytes().to_vec())
        .ok_or_else(|| LocalError::Usage(format!("{} is shorter than 32 bytes", path.display())))
}
