//! What an upload may be: its file name, its content type (an allow-list), its size, and the
//! limits (configurable), parsed once at the edge.

use serde::{Deserialize, Serialize};

use crate::config::ConfigError;
use crate::error::AppError;

/// The default allow-list: images, PDF, plain text, common office, audio and video types.
pub const DEFAULT_TYPES: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "text/plain",
    "text/csv",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "audio/mpeg",
    "audio/mp4",
    "audio/ogg",
    "audio/wav",
    "video/mp4",
    "video/webm",
    "video/quicktime",
];

/// The types an avatar may be.
pub const IMAGE_TYPES: &[&str] = &["image/png", "image/jpeg", "image/gif", "image/webp"];
/// The types the preview function makes a thumbnail of (lambda/thumbnail).
pub const PREVIEW_TYPES: &[&str] = &["image/png", "image/jpeg"];

/// Sizes, types and counts of uploads. Environment: `CHAT_UPLOAD_MAX_BYTES` (25 MB),
/// `CHAT_UPLOAD_TYPES` (comma-separated; the default list above), `CHAT_ATTACHMENTS_PER_MESSAGE`
/// (10), `CHAT_UPLOAD_PENDING_SECS` (how long an upload waits to be attached: 24 h).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadLimits {
    pub max_bytes: i64,
    pub types: Vec<String>,
    pub per_message: usize,
    pub pending_secs: i64,
}

impl Default for UploadLimits {
    fn default() -> Self {
        Self {
            max_bytes: 25 * 1024 * 1024,
            types: DEFAULT_TYPES.iter().map(|s| (*s).to_owned()).collect(),
            per_message: 10,
            pending_secs: 24 * 3600,
        }
    }
}

impl UploadLimits {
    pub fn from_lookup(
        get: &impl Fn(&str) -> Option<String>,
        number: &impl Fn(&'static str, i64) -> Result<i64, ConfigError>,
    ) -> Result<Self, ConfigError> {
        let d = Self::default();
        let types = match get("CHAT_UPLOAD_TYPES").filter(|s| !s.trim().is_empty()) {
            Some(list) => list.split(',').map(|t| t.trim().to_ascii_lowercase()).filter(|t| !t.is_empty()).collect(),
            None => d.types,
        };
        Ok(Self {
            max_bytes: number("CHAT_UPLOAD_MAX_BYTES", d.max_bytes)?.clamp(1, 5 * 1024 * 1024 * 1024),
            types,
            per_message: number("CHAT_ATTACHMENTS_PER_MESSAGE", d.per_message as i64)?.clamp(0, 100) as usize,
            pending_secs: number("CHAT_UPLOAD_PENDING_SECS", d.pending_secs)?.clamp(1, 7 * 24 * 3600),
        })
    }
}

/// A file name as shown to the other members: 1 to 255 characters, no path separator, no
/// control character, not `.` or `..`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FileName(String);

impl FileName {
    pub const MAX_CHARS: usize = 255;

    pub fn parse(s: &str) -> Result<Self, AppError> {
        let bad = s.is_empty()
            || s.chars().count() > Self::MAX_CHARS
            || s.chars().any(|c| c == '/' || c == '\\' || c.is_control())
            || s == "."
            || s == "..";
        if bad {
            return Err(AppError::field("fileName", "1 to 255 characters, no path separator or control character"));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A content type of the allow-list, lower-case, without parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ContentType(String);

impl ContentType {
    pub fn parse(s: &str, limits: &UploadLimits) -> Result<Self, AppError> {
        let t = s.trim().to_ascii_lowercase();
        if !limits.types.contains(&t) {
            return Err(AppError::field("contentType", "not an accepted type"));
        }
        Ok(Self(t))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_image(&self) -> bool {
        IMAGE_TYPES.contains(&self.0.as_str())
    }

    /// A preview will be made of it.
    pub fn has_preview(&self) -> bool {
        PREVIEW_TYPES.contains(&self.0.as_str())
    }
}

/// The schemas of an upload request's hand-parsed fields (for `#[schemars(with = …)]`), from
/// the parsers' constants and the default limits (a deployment may configure other types and
/// another maximum: `CHAT_UPLOAD_TYPES`, `CHAT_UPLOAD_MAX_BYTES`).
pub mod schema {
    pub struct FileNameSchema;
    pub struct ContentTypeSchema;
    pub struct SizeSchema;
    /// A send's `attachments`: distinct upload ids, at most the default per message.
    pub struct AttachmentIds;

    /// An upload request's rule between two fields, as the parser has it: an avatar's type is
    /// an image type.
    #[cfg(feature = "schema")]
    pub fn avatar_is_an_image(schema: &mut schemars::Schema) {
        let rule = schemars::json_schema!({
            "anyOf": [
                {
                    "properties": { "purpose": { "const": "attachment" }, "conversationId": { "type": "string" } },
                    "required": ["conversationId"],
                },
                {
                    "properties": { "purpose": { "const": "avatar" }, "contentType": { "enum": super::IMAGE_TYPES }, "conversationId": { "type": "null" } },
                },
            ]
        });
        if let (Some(object), Some(any_of)) = (schema.as_object_mut(), rule.get("anyOf")) {
            object.insert("anyOf".into(), any_of.clone());
        }
    }
}

#[cfg(feature = "schema")]
mod schema_impls {
    use std::borrow::Cow;

    use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};

    use super::schema::{AttachmentIds, ContentTypeSchema, FileNameSchema, SizeSchema};
    use super::{FileName, UploadLimits, DEFAULT_TYPES};

    impl JsonSchema for FileNameSchema {
        fn schema_name() -> Cow<'static, str> {
            "FileName".into()
        }
        fn json_schema(_: &mut SchemaGenerator) -> Schema {
            let controls = crate::text::class(crate::text::CONTROL.iter().copied());
            json_schema!({
                "type": "string",
                "minLength": 1,
                "maxLength": FileName::MAX_CHARS,
                "pattern": format!("^[^/\\\\{controls}]+$"),
                "not": { "enum": [".", ".."] },
                "description": "Shown to the other members: no path separator or control character, not `.` or `..`.",
            })
        }
    }

    impl JsonSchema for ContentTypeSchema {
        fn schema_name() -> Cow<'static, str> {
            "UploadContentType".into()
        }
        fn json_schema(_: &mut SchemaGenerator) -> Schema {
            json_schema!({
                "type": "string",
                "enum": DEFAULT_TYPES,
                "description": "One of the accepted types (the default list; a deployment may configure its own with `CHAT_UPLOAD_TYPES`).",
            })
        }
    }

    impl JsonSchema for AttachmentIds {
        fn schema_name() -> Cow<'static, str> {
            "AttachmentIds".into()
        }
        fn json_schema(g: &mut SchemaGenerator) -> Schema {
            json_schema!({
                "type": "array",
                "items": g.subschema_for::<crate::ids::UploadId>(),
                "maxItems": UploadLimits::default().per_message,
                "uniqueItems": true,
                "description": "Uploads (`POST /api/uploads`) to attach: the sender's, for this conversation, uploaded as declared, not attached elsewhere (409 otherwise). At most the default per message (`CHAT_ATTACHMENTS_PER_MESSAGE`).",
            })
        }
    }

    impl JsonSchema for SizeSchema {
        fn schema_name() -> Cow<'static, str> {
            "UploadSize".into()
        }
        fn json_schema(_: &mut SchemaGenerator) -> Schema {
            json_schema!({
                "type": "integer",
                "minimum": 1,
                "maximum": UploadLimits::default().max_bytes,
                "description": "Bytes; the upload must be exactly this. The maximum is the default (25 MiB; `CHAT_UPLOAD_MAX_BYTES`).",
            })
        }
    }
}

/// A JSON integer as JSON Schema counts one: `22605` and `22605.0` alike (serde's `i64` refuses
/// the second, which the contract's `"type": "integer"` admits).
pub fn integral<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    n.as_i64()
        .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15).map(|f| f as i64))
        .ok_or_else(|| serde::de::Error::custom("expected an integer"))
}

/// A size in bytes, 1 to the configured maximum.
pub fn parse_size(size: i64, limits: &UploadLimits) -> Result<i64, AppError> {
    if size < 1 || size > limits.max_bytes {
        return Err(AppError::field("size", format!("1 to {} bytes", limits.max_bytes)));
    }
    Ok(size)
}

/// What an upload is for.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    /// A file of a message of `conversationId`.
    Attachment,
    /// The uploader's profile picture (an image).
    Avatar,
}

/// A file of a message, as the members see it. The file itself: `GET /api/attachments/{id}`
/// (a redirect to a short-lived download URL; `?thumbnail=true`: its preview).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    pub id: crate::ids::UploadId,
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub file_name: FileName,
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub content_type: ContentType,
    pub size: i64,
    /// Pixels, when the preview function has measured the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// A PNG or JPEG: a preview is (or will shortly be) at `GET /api/attachments/{id}?thumbnail=true`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub thumbnail: bool,
}

/// The object key of an upload's file and of its preview.
pub fn object_key(id: &crate::ids::UploadId) -> String {
    format!("uploads/{id}")
}

pub fn thumbnail_key(id: &crate::ids::UploadId) -> String {
    format!("thumbs/{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_integer_may_be_written_with_a_zero_fraction_as_json_schema_counts_it() {
        #[derive(serde::Deserialize)]
        struct Size {
            #[serde(deserialize_with = "integral")]
            size: i64,
        }
        let size =
            |v: serde_json::Value| serde_json::from_value::<Size>(serde_json::json!({ "size": v })).map(|s| s.size);
        assert_eq!(size(22605.into()).unwrap(), 22605);
        assert_eq!(size(serde_json::json!(22605.0)).unwrap(), 22605);
        assert!(size(serde_json::json!(1.5)).is_err());
        assert!(size(serde_json::json!("1")).is_err());
    }

    #[test]
    fn file_names_with_path_separators_or_control_characters_are_refused() {
        for bad in ["", "a/b.png", "..\\x", "a\u{0}b", "line\nbreak", ".", "..", &"x".repeat(256)] {
            assert!(FileName::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            FileName::parse("holiday photo (1).JPG").ok().map(|f| f.0).as_deref(),
            Some("holiday photo (1).JPG")
        );
    }

    #[test]
    fn only_listed_content_types_are_accepted_whatever_their_case() {
        let limits = UploadLimits::default();
        assert_eq!(ContentType::parse("Image/PNG", &limits).ok().map(|t| t.0).as_deref(), Some("image/png"));
        assert!(ContentType::parse("application/x-msdownload", &limits).is_err());
        assert!(ContentType::parse("text/html", &limits).is_err());
    }
}
