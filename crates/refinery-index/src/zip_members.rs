//! How many members a zip archive declares, read from its end-of-central-directory record
//! (APPNOTE.TXT 4.3.16, and 4.3.14/4.3.15 for ZIP64) without parsing the central
//! directory: opening a 200,000-member wheel with the `zip` crate costs ~135 MB before any
//! check can run, so the count is checked first.

use std::io::{self, Read, Seek, SeekFrom};

/// Most members a wheel may have. The largest wheels on PyPI have a few tens of thousands.
pub const MAX_WHEEL_MEMBERS: u64 = 100_000;

const EOCD: &[u8; 4] = b"PK\x05\x06";
const ZIP64_LOCATOR: &[u8; 4] = b"PK\x06\x07";
const ZIP64_EOCD: &[u8; 4] = b"PK\x06\x06";
/// The record (22 bytes) plus the longest comment (65,535 bytes).
const EOCD_SEARCH: u64 = 22 + 65_535;

/// The member count the archive declares, or `None` when it has no end-of-central-directory
/// record (not a zip; the zip reader then says what is wrong).
pub fn declared_member_count(file: &mut (impl Read + Seek)) -> io::Result<Option<u64>> {
    let len = file.seek(SeekFrom::End(0))?;
    let tail_len = len.min(EOCD_SEARCH);
    file.seek(SeekFrom::Start(len - tail_len))?;
    let mut tail = vec![0u8; tail_len as usize];
    file.read_exact(&mut tail)?;
    let Some(at) = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| &tail[i..i + 4] == EOCD)
    else {
        return Ok(None);
    };
    let entries = u64::from(u16::from_le_bytes([tail[at + 10], tail[at + 11]]));
    let field = |from: usize| u32::from_le_bytes(tail[from..from + 4].try_into().expect("4 bytes"));
    // The `zip` crate reads the ZIP64 record when any field of this one is saturated
    // (count, directory size or offset), and then believes its count: so do we, and the
    // larger count wins.
    let saturated = entries == 0xFFFF || field(at + 12) == u32::MAX || field(at + 16) == u32::MAX;
    if !saturated {
        return Ok(Some(entries));
    }
    Ok(Some(
        zip64_count(file, len - tail_len + at as u64)?.map_or(entries, |n| n.max(entries)),
    ))
}

/// The member count of the ZIP64 record that the locator before `eocd_offset` points at.
fn zip64_count(file: &mut (impl Read + Seek), eocd_offset: u64) -> io::Result<Option<u64>> {
    if eocd_offset < 20 {
        return Ok(None);
    }
    let mut locator = [0u8; 20];
    file.seek(SeekFrom::Start(eocd_offset - 20))?;
    file.read_exact(&mut locator)?;
    if &locator[..4] != ZIP64_LOCATOR {
        return Ok(None);
    }
    let record_offset = u64::from_le_bytes(locator[8..16].try_into().expect("8 bytes"));
    let mut record = [0u8; 56];
    file.seek(SeekFrom::Start(record_offset))?;
    if file.read_exact(&mut record).is_err() || &record[..4] != ZIP64_EOCD {
        return Ok(None);
    }
    let total = u64::from_le_bytes(record[32..40].try_into().expect("8 bytes"));
    let on_disk = u64::from_le_bytes(record[24..32].try_into().expect("8 bytes"));
    Ok(Some(total.max(on_disk)))
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write};

    use zip::write::SimpleFileOptions;

    use super::*;
    use crate::wheel_metadata::check_wheel_member_count;

    fn zip_with(members: usize, zip64: bool) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .large_file(zip64);
        for i in 0..members {
            writer.start_file(format!("m{i}"), options).unwrap();
            writer.write_all(b"x").unwrap();
        }
        writer.set_comment("a comment that the search must skip");
        writer.finish().unwrap().into_inner()
    }

    #[test]
    fn counts_what_the_archive_declares() {
        for n in [0, 1, 3, 70_000] {
            let bytes = zip_with(n, false);
            assert_eq!(
                declared_member_count(&mut Cursor::new(bytes)).unwrap(),
                Some(n as u64),
                "{n} members"
            );
        }
    }

    #[test]
    fn reads_the_zip64_count() {
        // 65,535 or more members need the ZIP64 record.
        let bytes = zip_with(65_536, true);
        assert_eq!(
            declared_member_count(&mut Cursor::new(bytes)).unwrap(),
            Some(65_536)
        );
    }

    #[test]
    fn not_a_zip_has_no_count() {
        assert_eq!(
            declared_member_count(&mut Cursor::new(b"just text".to_vec())).unwrap(),
            None
        );
        assert_eq!(
            declared_member_count(&mut Cursor::new(Vec::new())).unwrap(),
            None
        );
    }

    #[test]
    fn too_many_members_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.whl");
        std::fs::write(&path, zip_with(3, false)).unwrap();
        check_wheel_member_count(&path).unwrap();
        // A forged directory record that declares more than the limit.
        let mut bytes = zip_with(3, false);
        let at = bytes.windows(4).rposition(|w| w == EOCD).unwrap();
        bytes[at + 10..at + 12].copy_from_slice(&0xFFFEu16.to_le_bytes());
        std::fs::write(&path, &bytes).unwrap();
        check_wheel_member_count(&path).unwrap();
        let huge = MAX_WHEEL_MEMBERS + 1;
        let mut forged = zip_with(0, false);
        let at = forged.windows(4).rposition(|w| w == EOCD).unwrap();
        forged.truncate(at);
        // ZIP64 record + locator + EOCD saying "see ZIP64".
        let record_offset = forged.len() as u64;
        forged.extend_from_slice(ZIP64_EOCD);
        forged.extend_from_slice(&44u64.to_le_bytes());
        forged.extend_from_slice(&[0u8; 20]);
        forged.extend_from_slice(&huge.to_le_bytes());
        forged.extend_from_slice(&huge.to_le_bytes());
        forged.extend_from_slice(&[0u8; 16]);
        forged.extend_from_slice(ZIP64_LOCATOR);
        forged.extend_from_slice(&0u32.to_le_bytes());
        forged.extend_from_slice(&record_offset.to_le_bytes());
        forged.extend_from_slice(&1u32.to_le_bytes());
        forged.extend_from_slice(EOCD);
        forged.extend_from_slice(&[0u8; 4]);
        forged.extend_from_slice(&0xFFFFu16.to_le_bytes());
        forged.extend_from_slice(&0xFFFFu16.to_le_bytes());
        forged.extend_from_slice(&[0u8; 10]);
        std::fs::write(&path, &forged).unwrap();
        let err = check_wheel_member_count(&path).unwrap_err().to_string();
        assert!(err.contains(&format!("declares {huge} members")), "{err}");
        // The same with a small classic count and only the directory offset saturated:
        // the zip crate would believe the ZIP64 record, so the check must too.
        let at = forged.windows(4).rposition(|w| w == EOCD).unwrap();
        forged[at + 8..at + 12].copy_from_slice(&[1, 0, 1, 0]);
        forged[at + 16..at + 20].copy_from_slice(&u32::MAX.to_le_bytes());
        std::fs::write(&path, &forged).unwrap();
        let err = check_wheel_member_count(&path).unwrap_err().to_string();
        assert!(err.contains(&format!("declares {huge} members")), "{err}");
    }
}
