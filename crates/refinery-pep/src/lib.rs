//! Python packaging standards for the s390x Wheel Refinery: names, versions, specifiers,
//! markers (re-exported from `pep440_rs`/`pep508_rs`), wheel and sdist filenames, platform
//! tags, the s390x [`Target`] and its compatibility rules, `requirements.txt` and core
//! metadata. No IO: everything that reads files takes a loader or bytes.

pub use pep440_rs::{Version, VersionSpecifier, VersionSpecifiers};
pub use pep508_rs::{
    ExtraName, InvalidNameError, MarkerEnvironment, MarkerTree, PackageName, Requirement,
    VersionOrUrl,
};

pub mod wheel;
pub use wheel::{BuildTag, WheelFilename, WheelFilenameError};
pub mod sdist;
pub use sdist::{SdistFilename, SdistFilenameError};
pub mod tags;
pub use tags::{Platform, Tag, TagError};
pub mod target;
pub use target::{Compatibility, Target, TargetError};
pub mod requirements_txt;
pub use requirements_txt::{RejectedLine, RequirementEntry, RequirementsTxt, RequirementsTxtError};
pub mod format_control;
pub use format_control::{AllowedFormats, BinaryOption, FormatControl, FormatControlError};
pub mod text_decode;
pub use text_decode::{decode_text, DecodeError};
pub mod bounded;
pub use bounded::{check_nesting, parse_requirement, BoundedParseError};
pub mod redact;
pub use redact::redact_url;
pub mod metadata;
pub use metadata::{CoreMetadata, MetadataError};
pub mod project_name;
mod spelled;
pub use project_name::{ProjectName, ProjectNameError};
pub mod project_version;
pub use project_version::{ProjectVersion, ProjectVersionError};

/// Why a package name is not one (PEP 508 names, as `pep508_rs` checks them).
#[derive(Debug, thiserror::Error)]
pub(crate) enum NameError {
    #[error("the name is empty")]
    Empty,
    #[error(transparent)]
    Invalid(#[from] InvalidNameError),
}

/// Parse a package name, rejecting the empty string (which `PackageName::new` accepts).
pub(crate) fn parse_package_name(name: &str) -> Result<PackageName, NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    Ok(PackageName::new(name.to_string())?)
}
