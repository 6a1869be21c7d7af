//! Attachment metadata: accepted content types and their size limits.
//!
//! The bytes themselves live in the store, once per content hash; this
//! module only decides what may be attached.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{check_text, excerpt, ValidationError};
use crate::ident_enum::ident_enum;

/// One mebibyte.
pub const MIB: u64 = 1024 * 1024;

ident_enum! {
    /// The kinds of file a case accepts, each with one canonical content type.
    AttachmentKind, "attachment type" {
        /// `application/pdf`
        Pdf = "application/pdf",
        /// `image/jpeg`
        Jpeg = "image/jpeg",
        /// `image/png`
        Png = "image/png",
        /// `image/gif`
        Gif = "image/gif",
        /// `text/plain`
        Text = "text/plain",
        /// `text/csv`
        Csv = "text/csv",
        /// `application/vnd.openxmlformats-officedocument.spreadsheetml.sheet`
        Xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        /// `application/vnd.openxmlformats-officedocument.wordprocessingml.document`
        Docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        /// `video/mp4`
        Mp4 = "video/mp4",
        /// `video/quicktime`
        Mov = "video/quicktime",
    }
}

const ACCEPTED: &str = "PDF, JPEG, PNG, GIF, plain text, CSV, XLSX, DOCX, MP4, MOV";

impl AttachmentKind {
    /// Recognises a content type, ignoring case and parameters
    /// (`text/plain; charset=utf-8`) and accepting common aliases.
    pub fn from_content_type(content_type: &str) -> Option<AttachmentKind> {
        let base = content_type.split(';').next().unwrap_or("").trim();
        if let Ok(kind) = AttachmentKind::parse(base) {
            return Some(kind);
        }
        match base.to_ascii_lowercase().as_str() {
            "image/jpg" | "image/pjpeg" => Some(AttachmentKind::Jpeg),
            "application/csv" | "text/comma-separated-values" => Some(AttachmentKind::Csv),
            "video/mov" => Some(AttachmentKind::Mov),
            _ => None,
        }
    }

    /// Whether the kind is a video (which has its own, larger limit).
    pub const fn is_video(self) -> bool {
        matches!(self, AttachmentKind::Mp4 | AttachmentKind::Mov)
    }
}

/// Per-kind size limits. Defaults: 10 MiB for documents and images,
/// 100 MiB for video.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentPolicy {
    /// Limit for documents, spreadsheets, text and images, in bytes.
    pub document_limit: u64,
    /// Limit for video, in bytes.
    pub video_limit: u64,
}

impl Default for AttachmentPolicy {
    fn default() -> Self {
        AttachmentPolicy {
            document_limit: 10 * MIB,
            video_limit: 100 * MIB,
        }
    }
}

impl AttachmentPolicy {
    /// The size limit for one kind.
    pub fn limit(&self, kind: AttachmentKind) -> u64 {
        if kind.is_video() {
            self.video_limit
        } else {
            self.document_limit
        }
    }
}

/// A SHA-256 content hash; attachment bytes are stored once per hash.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ContentHash(pub [u8; 32]);

impl ContentHash {
    /// The hash of an attachment whose content is unknown: archives from
    /// other systems rarely carry one, and such an attachment is kept as
    /// metadata without content. All zeros is no real SHA-256 digest (no
    /// bytes are ever stored under it: stored bytes must match their hash),
    /// and it keeps the stored record's shape unchanged.
    pub const ABSENT: ContentHash = ContentHash([0; 32]);

    /// Whether this is [`ContentHash::ABSENT`].
    pub fn is_absent(&self) -> bool {
        *self == ContentHash::ABSENT
    }

    /// Parses 64 hexadecimal digits (either case).
    pub fn parse_hex(text: &str) -> Result<Self, ValidationError> {
        let t = text.trim();
        let bad = || ValidationError::malformed("sha256", text, "64 hexadecimal digits");
        // Check the digits here: `from_str_radix` alone would also take a
        // `+` sign ("+f" parses as 15).
        if t.len() != 64 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (slot, pair) in out.iter_mut().zip(t.as_bytes().chunks_exact(2)) {
            let s = std::str::from_utf8(pair).map_err(|_| bad())?;
            *slot = u8::from_str_radix(s, 16).map_err(|_| bad())?;
        }
        Ok(ContentHash(out))
    }

    /// Lower-case hexadecimal.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentHash({})", self.to_hex())
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Validated metadata of one attachment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentMeta {
    /// File name as the user gave it (no path).
    pub name: String,
    /// The accepted kind (its canonical content type is `kind.as_str()`).
    pub kind: AttachmentKind,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the content; [`ContentHash::ABSENT`] when unknown
    /// (metadata without content, see [`AttachmentMeta::content_hash`]).
    pub sha256: ContentHash,
}

impl AttachmentMeta {
    /// Validates outside attachment metadata against a policy: a file name
    /// without path separators, an accepted content type, a size within
    /// that type's limit, and a well-formed hash.
    pub fn new(
        name: &str,
        content_type: &str,
        size: u64,
        sha256: ContentHash,
        policy: &AttachmentPolicy,
    ) -> Result<Self, ValidationError> {
        check_text("attachment name", name, 255)?;
        if name.contains(['/', '\\']) {
            return Err(ValidationError::malformed(
                "attachment name",
                name,
                "a file name without / or \\",
            ));
        }
        let kind =
            AttachmentKind::from_content_type(content_type).ok_or_else(|| ValidationError::AttachmentTypeRefused {
                name: excerpt(name),
                content_type: excerpt(content_type),
                accepted: ACCEPTED,
            })?;
        let limit = policy.limit(kind);
        if size > limit {
            return Err(ValidationError::AttachmentTooLarge {
                name: excerpt(name),
                content_type: kind.as_str(),
                size,
                limit,
            });
        }
        Ok(AttachmentMeta {
            name: name.to_owned(),
            kind,
            size,
            sha256,
        })
    }

    /// The content hash, or `None` for metadata without content.
    pub fn content_hash(&self) -> Option<ContentHash> {
        (!self.sha256.is_absent()).then_some(self.sha256)
    }

    /// The canonical content type.
    pub fn content_type(&self) -> &'static str {
        self.kind.as_str()
    }
}
