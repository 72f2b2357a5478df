//! What the emulator reads from a SAM template: each `AWS::Serverless::Function` with its binary
//! (`Metadata.BuildProperties.Binary`), its `HttpApi` events (method and path template), memory,
//! timeout and environment (Globals merged with the function's own); and the HTTP API's CORS
//! configuration.
//!
//! CloudFormation tags arrive from the YAML parser as tagged values. `!Ref` to a parameter gives
//! its value (the default unless overridden); `!Ref` to the DynamoDB table, the S3 bucket or a
//! Secrets Manager secret is kept symbolic ([`EnvValue`]) for the emulator to fill in. Anything
//! else (`!GetAtt`, `!Sub`, a `!Ref` to another resource) where the emulator needs a value is an
//! error naming the place.

use serde_yaml::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Why a template cannot be emulated.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The template's path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not YAML.
    #[error("template: {0}")]
    Yaml(#[from] serde_yaml::Error),
    /// A value the emulator needs is missing or not something it can resolve.
    #[error("template: {0}")]
    Invalid(String),
}

/// The value of a function's environment variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvValue {
    /// A literal, or a parameter's value.
    Text(String),
    /// `!Ref` to the `AWS::DynamoDB::Table`: its name.
    Table,
    /// `!Ref` to the `AWS::S3::Bucket`: its name.
    Bucket,
    /// `!Ref` to an `AWS::SecretsManager::Secret`: its ARN.
    Secret,
}

/// One `HttpApi` event: a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Upper-case method, or `ANY`.
    pub method: String,
    /// Path template: `/videos/{videoId}/status`.
    pub path: String,
}

impl Route {
    /// API Gateway's route key: `GET /videos/{videoId}`.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// One function of the template.
#[derive(Debug, Clone)]
pub struct Function {
    /// The resource's logical id (`CreateTokenFunction`): also its function name here.
    pub name: String,
    /// The binary to run (`Metadata.BuildProperties.Binary`).
    pub binary: String,
    /// `MemorySize` in MB.
    pub memory_mb: u64,
    /// `Timeout` in seconds.
    pub timeout_secs: u64,
    /// The environment the template gives, Globals first.
    pub environment: BTreeMap<String, EnvValue>,
    /// Its `HttpApi` routes.
    pub routes: Vec<Route>,
}

/// `CorsConfiguration` of the HTTP API.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cors {
    /// `AllowOrigins` (`*` allows any).
    pub allow_origins: Vec<String>,
    /// `AllowMethods`.
    pub allow_methods: Vec<String>,
    /// `AllowHeaders` (lower case).
    pub allow_headers: Vec<String>,
    /// `ExposeHeaders`.
    pub expose_headers: Vec<String>,
    /// `MaxAge` in seconds.
    pub max_age: Option<u64>,
    /// `AllowCredentials`.
    pub allow_credentials: bool,
}

/// What the emulator serves.
#[derive(Debug, Clone)]
pub struct Template {
    /// The functions with at least one `HttpApi` route.
    pub functions: Vec<Function>,
    /// The HTTP API's CORS configuration, if it has one.
    pub cors: Option<Cors>,
}

impl Template {
    /// Reads a template file; `parameters` override the parameters' defaults.
    pub fn load(path: &Path, parameters: &BTreeMap<String, String>) -> Result<Self, TemplateError> {
        let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, parameters)
    }

    /// Parses a template's text.
    pub fn parse(text: &str, parameters: &BTreeMap<String, String>) -> Result<Self, TemplateError> {
        let doc: Value = serde_yaml::from_str(text)?;
        let resolver = Resolver::new(&doc, parameters)?;
        let resources = doc
            .get("Resources")
            .and_then(Value::as_mapping)
            .ok_or_else(|| invalid("no Resources"))?;
        let globals = doc.get("Globals").and_then(|g| g.get("Function"));
        let mut functions = Vec::new();
        let mut cors = None;
        for (id, resource) in resources {
            let id = id
                .as_str()
                .ok_or_else(|| invalid("a resource id is not a string"))?;
            match resource.get("Type").and_then(Value::as_str) {
                Some("AWS::Serverless::Function") => {
                    if let Some(function) = resolver.function(id, resource, globals)? {
                        functions.push(function);
                    }
                }
                Some("AWS::Serverless::HttpApi") => {
                    if let Some(config) = resource
                        .get("Properties")
                        .and_then(|p| p.get("CorsConfiguration"))
                    {
                        cors = Some(resolver.cors(id, config)?);
                    }
                }
                _ => {}
            }
        }
        if functions.is_empty() {
            return Err(invalid(
                "no AWS::Serverless::Function with an HttpApi event",
            ));
        }
        Ok(Self { functions, cors })
    }
}

fn invalid(message: impl Into<String>) -> TemplateError {
    TemplateError::Invalid(message.into())
}

/// A CloudFormation intrinsic (`!Ref X`, or the long form `{Ref: X}`): its name and argument.
fn intrinsic(value: &Value) -> Option<(String, &Value)> {
    match value {
        Value::Tagged(tagged) => Some((
            tagged.tag.to_string().trim_start_matches('!').to_owned(),
            &tagged.value,
        )),
        Value::Mapping(m) if m.len() == 1 => {
            let (k, v) = m.iter().next()?;
            let k = k.as_str()?;
            (k == "Ref" || k.starts_with("Fn::"))
                .then(|| (k.trim_start_matches("Fn::").to_owned(), v))
        }
        _ => None,
    }
}

struct Resolver {
    parameters: BTreeMap<String, String>,
    resource_types: BTreeMap<String, String>,
}

impl Resolver {
    fn new(doc: &Value, overrides: &BTreeMap<String, String>) -> Result<Self, TemplateError> {
        let mut parameters = BTreeMap::new();
        if let Some(declared) = doc.get("Parameters").and_then(Value::as_mapping) {
            for (name, declaration) in declared {
                let Some(name) = name.as_str() else { continue };
                if let Some(default) = declaration.get("Default").and_then(scalar) {
                    parameters.insert(name.to_owned(), default);
                }
            }
        }
        for (name, value) in overrides {
            parameters.insert(name.clone(), value.clone());
        }
        let mut resource_types = BTreeMap::new();
        if let Some(resources) = doc.get("Resources").and_then(Value::as_mapping) {
            for (id, resource) in resources {
                if let (Some(id), Some(ty)) =
                    (id.as_str(), resource.get("Type").and_then(Value::as_str))
                {
                    resource_types.insert(id.to_owned(), ty.to_owned());
                }
            }
        }
        Ok(Self {
            parameters,
            resource_types,
        })
    }

    /// A value the emulator needs as text or as a known resource.
    fn value(&self, value: &Value, place: &str) -> Result<EnvValue, TemplateError> {
        if let Some(text) = scalar(value) {
            return Ok(EnvValue::Text(text));
        }
        let unsupported = || invalid(format!("{place}: cannot resolve {value:?}"));
        let Some((function, argument)) = intrinsic(value) else {
            return Err(unsupported());
        };
        let name = argument.as_str().ok_or_else(unsupported)?;
        if function != "Ref" {
            return Err(unsupported());
        }
        if let Some(v) = self.parameters.get(name) {
            return Ok(EnvValue::Text(v.clone()));
        }
        match self.resource_types.get(name).map(String::as_str) {
            Some("AWS::DynamoDB::Table") => Ok(EnvValue::Table),
            Some("AWS::S3::Bucket") => Ok(EnvValue::Bucket),
            Some("AWS::SecretsManager::Secret") => Ok(EnvValue::Secret),
            _ => Err(invalid(format!(
                "{place}: !Ref {name} is neither a parameter with a value nor a table, bucket or secret"
            ))),
        }
    }

    fn text(&self, value: &Value, place: &str) -> Result<String, TemplateError> {
        match self.value(value, place)? {
            EnvValue::Text(text) => Ok(text),
            other => Err(invalid(format!("{place}: {other:?} where text is needed"))),
        }
    }

    fn texts(&self, value: Option<&Value>, place: &str) -> Result<Vec<String>, TemplateError> {
        match value {
            None => Ok(Vec::new()),
            Some(Value::Sequence(items)) => items.iter().map(|v| self.text(v, place)).collect(),
            Some(other) => Ok(vec![self.text(other, place)?]),
        }
    }

    fn number(&self, value: Option<&Value>, place: &str) -> Result<Option<u64>, TemplateError> {
        value
            .map(|v| {
                self.text(v, place)?
                    .parse()
                    .map_err(|_| invalid(format!("{place}: not a number")))
            })
            .transpose()
    }

    fn environment(
        &self,
        properties: Option<&Value>,
        place: &str,
        into: &mut BTreeMap<String, EnvValue>,
    ) -> Result<(), TemplateError> {
        let variables = properties
            .and_then(|p| p.get("Environment"))
            .and_then(|e| e.get("Variables"))
            .and_then(Value::as_mapping);
        for (name, value) in variables.into_iter().flatten() {
            let name = name
                .as_str()
                .ok_or_else(|| invalid(format!("{place}: a variable name is not a string")))?;
            into.insert(
                name.to_owned(),
                self.value(value, &format!("{place}.Environment.{name}"))?,
            );
        }
        Ok(())
    }

    fn function(
        &self,
        id: &str,
        resource: &Value,
        globals: Option<&Value>,
    ) -> Result<Option<Function>, TemplateError> {
        let properties = resource.get("Properties");
        let mut routes = Vec::new();
        let events = properties
            .and_then(|p| p.get("Events"))
            .and_then(Value::as_mapping);
        for (name, event) in events.into_iter().flatten() {
            if event.get("Type").and_then(Value::as_str) != Some("HttpApi") {
                continue;
            }
            let place = format!("{id}.Events.{}", name.as_str().unwrap_or("?"));
            let props = event.get("Properties");
            let method = props
                .and_then(|p| p.get("Method"))
                .map(|m| self.text(m, &place))
                .transpose()?
                .ok_or_else(|| invalid(format!("{place}: no Method")))?;
            let path = props
                .and_then(|p| p.get("Path"))
                .map(|m| self.text(m, &place))
                .transpose()?
                .ok_or_else(|| invalid(format!("{place}: no Path")))?;
            if !path.starts_with('/') {
                return Err(invalid(format!("{place}: Path must start with /")));
            }
            let method = method.to_ascii_uppercase();
            routes.push(Route {
                method: if method == "*" { "ANY".into() } else { method },
                path,
            });
        }
        if routes.is_empty() {
            return Ok(None);
        }
        let binary = resource
            .get("Metadata")
            .and_then(|m| m.get("BuildProperties"))
            .and_then(|b| b.get("Binary"))
            .and_then(Value::as_str)
            .ok_or_else(|| invalid(format!("{id}: no Metadata.BuildProperties.Binary")))?
            .to_owned();
        let setting = |name: &str| {
            properties
                .and_then(|p| p.get(name))
                .or_else(|| globals.and_then(|g| g.get(name)))
        };
        let memory_mb = self
            .number(setting("MemorySize"), &format!("{id}.MemorySize"))?
            .unwrap_or(128);
        let timeout_secs = self
            .number(setting("Timeout"), &format!("{id}.Timeout"))?
            .unwrap_or(3);
        let mut environment = BTreeMap::new();
        self.environment(globals, "Globals.Function", &mut environment)?;
        self.environment(properties, id, &mut environment)?;
        Ok(Some(Function {
            name: id.to_owned(),
            binary,
            memory_mb,
            timeout_secs,
            environment,
            routes,
        }))
    }

    fn cors(&self, id: &str, config: &Value) -> Result<Cors, TemplateError> {
        let place = format!("{id}.CorsConfiguration");
        let flag = config
            .get("AllowCredentials")
            .map(|v| self.text(v, &place))
            .transpose()?;
        Ok(Cors {
            allow_origins: self.texts(config.get("AllowOrigins"), &place)?,
            allow_methods: self
                .texts(config.get("AllowMethods"), &place)?
                .into_iter()
                .map(|m| m.to_ascii_uppercase())
                .collect(),
            allow_headers: self
                .texts(config.get("AllowHeaders"), &place)?
                .into_iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
            expose_headers: self.texts(config.get("ExposeHeaders"), &place)?,
            max_age: self.number(config.get("MaxAge"), &place)?,
            allow_credentials: flag.is_some_and(|f| f == "true"),
        })
    }
}

/// A YAML scalar as text (numbers and booleans as CloudFormation would pass them).
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"
Parameters:
  Origin: {Type: String, Default: "*"}
  Max: {Type: Number, Default: 42}
Globals:
  Function:
    Timeout: 10
    Environment:
      Variables:
        TABLE_NAME: !Ref Table
        SIGNING_SECRET_ARN: !Ref Secret
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      CorsConfiguration:
        AllowOrigins: [!Ref Origin]
        AllowMethods: [get, POST]
        AllowHeaders: [Content-Range]
        MaxAge: 60
  Table: {Type: AWS::DynamoDB::Table}
  Bucket: {Type: AWS::S3::Bucket}
  Secret: {Type: AWS::SecretsManager::Secret}
  Fn:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: fn-bin}}
    Properties:
      MemorySize: 256
      Environment:
        Variables:
          BUCKET_NAME: !Ref Bucket
          MAX: !Ref Max
      Events:
        A: {Type: HttpApi, Properties: {Method: get, Path: "/things/{id}"}}
        B: {Type: Schedule, Properties: {Schedule: rate(1 day)}}
  NoRoutes:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: other}}
"#;

    #[test]
    fn functions_routes_environment_and_cors_are_read() {
        let mut overrides = BTreeMap::new();
        overrides.insert("Max".to_owned(), "7".to_owned());
        let t = Template::parse(TEMPLATE, &overrides).expect("parses");
        assert_eq!(
            t.functions.len(),
            1,
            "functions without HttpApi events are left out"
        );
        let f = &t.functions[0];
        assert_eq!((f.name.as_str(), f.binary.as_str()), ("Fn", "fn-bin"));
        assert_eq!((f.memory_mb, f.timeout_secs), (256, 10));
        assert_eq!(f.routes.len(), 1);
        assert_eq!(f.routes[0].key(), "GET /things/{id}");
        let env: Vec<_> = f.environment.iter().collect();
        assert_eq!(
            env,
            [
                (&"BUCKET_NAME".to_owned(), &EnvValue::Bucket),
                (&"MAX".to_owned(), &EnvValue::Text("7".into())),
                (&"SIGNING_SECRET_ARN".to_owned(), &EnvValue::Secret),
                (&"TABLE_NAME".to_owned(), &EnvValue::Table),
            ]
        );
        let cors = t.cors.expect("cors");
        assert_eq!(cors.allow_origins, ["*"]);
        assert_eq!(cors.allow_methods, ["GET", "POST"]);
        assert_eq!(cors.allow_headers, ["content-range"]);
        assert_eq!(cors.max_age, Some(60));
    }

    #[test]
    fn unresolvable_values_are_errors_naming_the_place() {
        let text = TEMPLATE.replace("MAX: !Ref Max", "MAX: !GetAtt Table.Arn");
        let e = Template::parse(&text, &BTreeMap::new()).expect_err("refused");
        assert!(e.to_string().contains("Fn.Environment.MAX"), "{e}");
        let text = TEMPLATE.replace("MAX: !Ref Max", "MAX: !Ref Api");
        assert!(Template::parse(&text, &BTreeMap::new()).is_err());
    }

    #[test]
    fn the_projects_template_is_understood() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml");
        let t = Template::load(&path, &BTreeMap::new()).expect("template.yaml loads");
        let mut binaries: Vec<_> = t.functions.iter().map(|f| f.binary.as_str()).collect();
        binaries.sort_unstable();
        assert_eq!(
            binaries,
            [
                "auth",
                "create-named-token",
                "create-token",
                "delete-named-token",
                "delete-token",
                "delete-video",
                "direct-abort",
                "direct-complete",
                "direct-create",
                "direct-list-parts",
                "direct-params",
                "direct-sign-batch",
                "direct-sign-part",
                "get-named-token",
                "get-token",
                "get-video",
                "list-named-tokens",
                "list-tokens",
                "tus-create",
                "tus-delete",
                "tus-head",
                "tus-options",
                "tus-patch",
                "update-named-token",
                "update-token",
                "update-video",
                "upload",
                "video-status"
            ]
        );
        let upload = t
            .functions
            .iter()
            .find(|f| f.binary == "upload")
            .expect("upload");
        assert_eq!(upload.routes[0].key(), "POST /upload");
        assert_eq!(
            upload.environment.get("ALLOW_ORIGIN"),
            Some(&EnvValue::Text("*".into()))
        );
        let cors = t.cors.expect("the HTTP API has CORS");
        assert_eq!(cors.allow_origins, ["*"]);
        assert!(cors.allow_headers.iter().any(|h| h == "content-range"));
    }
}
