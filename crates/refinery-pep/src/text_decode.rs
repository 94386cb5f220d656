//! Decoding a requirements file's bytes the way pip does (`pip/_internal/utils/encoding.py`,
//! `auto_decode`): a byte order mark decides (UTF-8, UTF-16 LE/BE, UTF-32 LE/BE), else a
//! `# -*- coding: NAME -*-` line among the first two, else UTF-8 (pip's locale default on
//! the systems the Refinery runs on). Bytes that do not decode are an error naming the
//! byte offset and the encoding tried; NUL bytes without a byte order mark are taken for
//! UTF-16/32 saved without one, and refused with that hint.

/// Why the bytes are not text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("byte offset {offset} is not valid {encoding}: {detail}; save the file as UTF-8 (or UTF-16 with a byte order mark, as PowerShell writes it)")]
pub struct DecodeError {
    /// Offset of the first bad byte from the start of the file (BOM included).
    pub offset: usize,
    /// The encoding tried, e.g. `UTF-16LE (byte order mark FF FE)`.
    pub encoding: String,
    pub detail: String,
}

const BOMS: [(&[u8], &str); 5] = [
    (b"\xef\xbb\xbf", "UTF-8"),
    (b"\xff\xfe\x00\x00", "UTF-32LE"),
    (b"\x00\x00\xfe\xff", "UTF-32BE"),
    (b"\xff\xfe", "UTF-16LE"),
    (b"\xfe\xff", "UTF-16BE"),
];

/// Decode a requirements file (see the module documentation).
///
/// # Errors
///
/// [`DecodeError`] with the offset of the first byte that is not valid in the encoding
/// (UTF-8, or the one its byte order mark names).
pub fn decode_text(bytes: &[u8]) -> Result<String, DecodeError> {
    for (bom, encoding) in BOMS {
        if let Some(rest) = bytes.strip_prefix(bom) {
            let label = format!(
                "{encoding} (byte order mark {})",
                bom.iter()
                    .map(|b| format!("{b:02X}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            return decode_as(rest, encoding, bom.len(), &label);
        }
    }
    if let Some(at) = bytes.iter().position(|b| *b == 0) {
        return Err(DecodeError {
            offset: at,
            encoding: "UTF-8 (no byte order mark)".into(),
            detail:
                "a NUL byte: the file looks like UTF-16 or UTF-32 saved without a byte order mark"
                    .into(),
        });
    }
    match coding_cookie(bytes) {
        Some(name) => {
            let normalized = name.to_ascii_lowercase().replace('_', "-");
            let encoding = match normalized.as_str() {
                "utf-8" | "utf8" => "UTF-8",
                "latin-1" | "latin1" | "iso-8859-1" | "iso8859-1" | "l1" => "ISO-8859-1",
                "ascii" | "us-ascii" => "ASCII",
                _ => {
                    return Err(DecodeError {
                        offset: 0,
                        encoding: name.clone(),
                        detail: format!(
                            "the coding line names `{name}`, which the Refinery does not decode (UTF-8, UTF-16, UTF-32, ISO-8859-1 and ASCII are understood)"
                        ),
                    })
                }
            };
            decode_as(
                bytes,
                encoding,
                0,
                &format!("{encoding} (from the coding line)"),
            )
        }
        None => decode_as(bytes, "UTF-8", 0, "UTF-8 (no byte order mark)"),
    }
}

/// `# ... coding[:=] NAME` on one of the first two lines (PEP 263's pattern, as pip).
fn coding_cookie(bytes: &[u8]) -> Option<String> {
    for line in bytes.split(|b| *b == b'\n').take(2) {
        let line = String::from_utf8_lossy(line);
        let line = line.trim_start();
        if !line.starts_with('#') {
            continue;
        }
        let Some(at) = line.find("coding") else {
            continue;
        };
        let Some(rest) = line[at + "coding".len()..].strip_prefix([':', '=']) else {
            continue;
        };
        let name: String = rest
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            .collect();
        if !name.is_empty() {
            return Some(name);
        }
    }
    None
}

fn decode_as(
    bytes: &[u8],
    encoding: &str,
    base: usize,
    label: &str,
) -> Result<String, DecodeError> {
    let error = |offset: usize, detail: String| DecodeError {
        offset: base + offset,
        encoding: label.to_string(),
        detail,
    };
    match encoding {
        "UTF-8" => std::str::from_utf8(bytes).map(str::to_string).map_err(|e| {
            error(
                e.valid_up_to(),
                format!(
                    "byte {:#04x} does not continue a UTF-8 sequence",
                    bytes[e.valid_up_to()]
                ),
            )
        }),
        "ASCII" => match bytes.iter().position(|b| !b.is_ascii()) {
            Some(at) => Err(error(at, format!("byte {:#04x} is not ASCII", bytes[at]))),
            None => Ok(String::from_utf8_lossy(bytes).into_owned()),
        },
        "ISO-8859-1" => Ok(bytes.iter().map(|b| char::from(*b)).collect()),
        "UTF-16LE" | "UTF-16BE" => {
            if !bytes.len().is_multiple_of(2) {
                return Err(error(
                    bytes.len() - 1,
                    "the file ends in the middle of a 2-byte unit".into(),
                ));
            }
            let units = bytes.chunks_exact(2).map(|pair| {
                if encoding == "UTF-16LE" {
                    u16::from_le_bytes([pair[0], pair[1]])
                } else {
                    u16::from_be_bytes([pair[0], pair[1]])
                }
            });
            let mut out = String::with_capacity(bytes.len() / 2);
            let mut offset = 0;
            for c in char::decode_utf16(units) {
                match c {
                    Ok(c) => {
                        offset += 2 * c.len_utf16();
                        out.push(c);
                    }
                    Err(e) => {
                        return Err(error(
                            offset,
                            format!("unpaired surrogate {:#06x}", e.unpaired_surrogate()),
                        ))
                    }
                }
            }
            Ok(out)
        }
        _ => {
            // UTF-32LE / UTF-32BE
            if !bytes.len().is_multiple_of(4) {
                return Err(error(
                    bytes.len() - bytes.len() % 4,
                    "the file ends in the middle of a 4-byte unit".into(),
                ));
            }
            let mut out = String::with_capacity(bytes.len() / 4);
            for (i, unit) in bytes.chunks_exact(4).enumerate() {
                let unit = [unit[0], unit[1], unit[2], unit[3]];
                let value = if encoding == "UTF-32LE" {
                    u32::from_le_bytes(unit)
                } else {
                    u32::from_be_bytes(unit)
                };
                match char::from_u32(value) {
                    Some(c) => out.push(c),
                    None => return Err(error(4 * i, format!("{value:#x} is no character"))),
                }
            }
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_coding_line_after_an_ordinary_comment_counts() {
        let text = b"# Project requirements\n# -*- coding: latin-1 -*-\ntinypkg==1.0 # caf\xe9\n";
        assert_eq!(coding_cookie(text).as_deref(), Some("latin-1"));
        assert!(decode_text(text).unwrap().contains("caf\u{e9}"));
    }

    fn utf16(text: &str, big: bool) -> Vec<u8> {
        let mut out = if big {
            vec![0xfe, 0xff]
        } else {
            vec![0xff, 0xfe]
        };
        for unit in text.encode_utf16() {
            out.extend(if big {
                unit.to_be_bytes()
            } else {
                unit.to_le_bytes()
            });
        }
        out
    }

    #[test]
    fn boms_and_cookies_decide_as_in_pip() {
        let text = "six==1.16.0\r\nnumpy # ünï\r\n";
        assert_eq!(decode_text(text.as_bytes()).unwrap(), text);
        let mut bom = b"\xef\xbb\xbf".to_vec();
        bom.extend(text.as_bytes());
        assert_eq!(decode_text(&bom).unwrap(), text);
        assert_eq!(decode_text(&utf16(text, false)).unwrap(), text);
        assert_eq!(decode_text(&utf16(text, true)).unwrap(), text);
        let mut utf32 = b"\x00\x00\xfe\xff".to_vec();
        for c in text.chars() {
            utf32.extend((c as u32).to_be_bytes());
        }
        assert_eq!(decode_text(&utf32).unwrap(), text);
        let latin = b"# -*- coding: latin-1 -*-\nsix # caf\xe9\n";
        assert_eq!(
            decode_text(latin).unwrap(),
            "# -*- coding: latin-1 -*-\nsix # café\n"
        );
    }

    #[test]
    fn undecodable_bytes_name_the_offset_and_the_encoding() {
        let err = decode_text(b"six\nnumpy # caf\xe9\n").unwrap_err();
        assert_eq!(err.offset, 15);
        assert!(err.encoding.starts_with("UTF-8"), "{err}");
        assert!(err.to_string().contains("byte offset 15"), "{err}");

        let mut odd = utf16("six", false);
        odd.push(b'x');
        let err = decode_text(&odd).unwrap_err();
        assert_eq!(err.offset, 8);
        assert!(
            err.encoding.contains("UTF-16LE (byte order mark FF FE)"),
            "{err}"
        );

        // A lone low surrogate after "a".
        let mut bad = utf16("a", true);
        bad.extend([0xdc, 0x00]);
        let err = decode_text(&bad).unwrap_err();
        assert_eq!(err.offset, 4);
        assert!(err.detail.contains("surrogate"), "{err}");

        // UTF-16 without a BOM has NUL bytes.
        let err = decode_text(&utf16("six", false)[2..]).unwrap_err();
        assert_eq!(err.offset, 1);
        assert!(err.detail.contains("byte order mark"), "{err}");

        let err = decode_text(b"# coding: cp1252\nsix\n").unwrap_err();
        assert!(err.detail.contains("cp1252"), "{err}");
        let err = decode_text(b"# coding: ascii\nsix # \xc3\xa9\n").unwrap_err();
        assert_eq!(err.offset, 22);
    }
}
