//! Which file a path names, to notice a database file deleted or replaced under a running
//! process (SQLite keeps writing to the old inode; a restart would lose those writes).

use std::path::Path;

/// Device and inode of a file (on Unix; elsewhere only that it exists).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    device: u64,
    inode: u64,
}

impl FileId {
    /// The identity of the file `path` names now.
    pub fn of(path: &Path) -> std::io::Result<FileId> {
        let meta = std::fs::metadata(path)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            Ok(FileId {
                device: meta.dev(),
                inode: meta.ino(),
            })
        }
        #[cfg(not(unix))]
        {
            let _ = meta;
            Ok(FileId {
                device: 0,
                inode: 0,
            })
        }
    }

    /// `None` while `path` still names this file, else what happened to it: `was deleted`
    /// or `was replaced by another file` (other errors say so too).
    pub fn changed(&self, path: &Path) -> Option<&'static str> {
        match FileId::of(path) {
            Ok(now) if now == *self => None,
            Ok(_) => Some("was replaced by another file"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some("was deleted"),
            Err(_) => Some("cannot be read any more"),
        }
    }
}
