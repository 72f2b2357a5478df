//! RFC 7807 problem documents, in api.video's shape.

use super::Slug;
use serde::Serialize;

/// Base of every problem `type` URI.
const TYPE_BASE: &str = "https://docs.api.video/reference/";

/// A problem+json body: `{"type","title","status","name"?,"detail"?,"problems"?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// `https://docs.api.video/reference/<slug>`.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// Short, fixed summary of the problem kind.
    pub title: String,
    /// HTTP status code.
    pub status: u16,
    /// The offending parameter or attribute.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What exactly was wrong and what is accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Each problem, when there are several.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<SubProblem>,
}

/// One entry of `problems`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubProblem {
    /// Type URI.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// Summary.
    pub title: String,
    /// Offending parameter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Problem {
    /// A problem of kind `slug`, with its title and status.
    pub fn new(slug: Slug) -> Self {
        Self {
            type_uri: format!("{TYPE_BASE}{slug}"),
            title: slug.title().to_owned(),
            status: slug.status(),
            name: None,
            detail: None,
            problems: Vec::new(),
        }
    }

    /// Names the offending parameter, and lists it as the single entry of `problems`.
    pub fn with_name(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self.problems = vec![SubProblem {
            type_uri: self.type_uri.clone(),
            title: self.title.clone(),
            name: Some(name.to_owned()),
        }];
        self
    }

    /// Adds a detail sentence.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// The slug at the end of `type`.
    pub fn slug(&self) -> &str {
        self.type_uri.trim_start_matches(TYPE_BASE)
    }
}
