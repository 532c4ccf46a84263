//! File types judged by content (magic numbers), checked against an allow-list and against what
//! the client declared; and file names made safe to keep as metadata.

/// Bytes read before the type is decided.
pub const SNIFF_LEN: usize = 8192;

/// A refusal, with a message for the user.
#[derive(Debug, PartialEq, Eq)]
pub struct Refused(pub String);

/// The accepted types: (canonical content type, extensions that name it).
const ALLOWED: &[(&str, &[&str])] = &[
    ("image/png", &["png"]),
    ("image/jpeg", &["jpg", "jpeg", "jfif"]),
    ("image/webp", &["webp"]),
    ("image/heif", &["heic", "heif"]),
    ("image/gif", &["gif"]),
    ("application/pdf", &["pdf"]),
    ("text/plain", &["txt", "text", "log"]),
    ("text/csv", &["csv"]),
    ("audio/mpeg", &["mp3"]),
    ("audio/mp4", &["m4a", "mp4a"]),
    ("audio/aac", &["aac"]),
    ("audio/wav", &["wav", "wave"]),
    ("audio/amr", &["amr"]),
    ("audio/ogg", &["ogg", "oga", "opus"]),
];

/// The usual file extension of an accepted content type (`image/png` → `png`).
#[must_use]
pub fn extension_of(content_type: &str) -> Option<&'static str> {
    ALLOWED
        .iter()
        .find(|(t, _)| *t == content_type)
        .and_then(|(_, exts)| exts.first().copied())
}

/// Maps a declared or detected MIME type to the canonical name used here.
fn canonical(mime: &str) -> String {
    let essence = mime
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "image/jpg" | "image/pjpeg" => "image/jpeg".into(),
        "image/heic" | "image/heic-sequence" | "image/heif-sequence" => "image/heif".into(),
        "audio/mp3" | "audio/x-mp3" | "audio/mpeg3" => "audio/mpeg".into(),
        "audio/m4a" | "audio/x-m4a" | "audio/mp4a-latm" => "audio/mp4".into(),
        "audio/x-aac" | "audio/aacp" => "audio/aac".into(),
        "audio/x-wav" | "audio/wave" | "audio/vnd.wave" => "audio/wav".into(),
        "audio/opus" | "application/ogg" => "audio/ogg".into(),
        "application/csv" | "text/comma-separated-values" | "text/x-csv" => "text/csv".into(),
        _ => essence,
    }
}

fn by_extension(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    ALLOWED
        .iter()
        .find(|(_, exts)| exts.contains(&ext.as_str()))
        .map(|(t, _)| *t)
}

/// Text: no NUL and no control characters other than tab, newlines, form feed and escape. Any
/// 8-bit encoding passes (CSV exported in GBK is common).
fn looks_like_text(head: &[u8]) -> bool {
    !head.is_empty()
        && head
            .iter()
            .all(|&b| b >= 0x20 || matches!(b, b'\t' | b'\n' | b'\r' | 0x0c | 0x1b))
}

/// Decides the content type of an upload from its first bytes, and refuses it when the type is
/// not allowed or disagrees with the declared type or the file name's extension.
///
/// # Errors
/// [`Refused`] with the reason.
pub fn decide(
    head: &[u8],
    declared: Option<&str>,
    file_name: &str,
) -> Result<&'static str, Refused> {
    let from_ext = by_extension(file_name);
    let declared = declared
        .map(canonical)
        .filter(|d| d != "application/octet-stream" && !d.is_empty());
    let detected: Option<String> = match infer::get(head) {
        Some(t) => {
            let c = canonical(t.mime_type());
            // Audio recorded by phones is often an MP4 container with an audio brand.
            if c == "video/mp4"
                && (from_ext == Some("audio/mp4") || declared.as_deref() == Some("audio/mp4"))
            {
                Some("audio/mp4".into())
            } else {
                Some(c)
            }
        }
        None if looks_like_text(head) => {
            let csv = from_ext == Some("text/csv") || declared.as_deref() == Some("text/csv");
            Some(if csv { "text/csv" } else { "text/plain" }.into())
        }
        None => None,
    };
    let Some(detected) = detected else {
        return Err(Refused(
            "the file's content is not of an accepted type".into(),
        ));
    };
    let Some((allowed, _)) = ALLOWED.iter().find(|(t, _)| *t == detected) else {
        return Err(Refused(format!(
            "files of type {detected} are not accepted"
        )));
    };
    let text = allowed.starts_with("text/");
    let agrees = |claimed: &str| claimed == *allowed || (text && claimed.starts_with("text/"));
    if let Some(d) = &declared
        && !agrees(d)
    {
        return Err(Refused(format!(
            "declared as {d} but the content is {allowed}"
        )));
    }
    if let Some(e) = from_ext
        && !agrees(e)
    {
        return Err(Refused(format!(
            "the file name says {e} but the content is {allowed}"
        )));
    }
    Ok(allowed)
}

/// A file name safe to keep and to send back: no directories, no control characters, no
/// invisible or direction-changing characters (a right-to-left override would make `exe`
/// read as `png`), no leading dots, at most 200 characters; Chinese and other letters are kept.
#[must_use]
pub fn sanitize_file_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .filter(|&c| {
            !c.is_control()
                && !crate::text::invisible(c)
                && !matches!(c, '"' | '<' | '>' | ':' | '|' | '?' | '*')
        })
        .collect();
    let trimmed = cleaned.trim().trim_start_matches('.').trim();
    let limited: String = trimmed.chars().take(200).collect();
    if limited.is_empty() {
        "evidence".into()
    } else {
        limited
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    const ELF: &[u8] = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0>\0";

    #[test]
    fn content_decides_the_type() {
        assert_eq!(decide(PNG, Some("image/png"), "截图.png"), Ok("image/png"));
        assert_eq!(decide(PNG, None, "noext"), Ok("image/png"));
        assert_eq!(
            decide(b"%PDF-1.7\n", Some("application/octet-stream"), "a.pdf"),
            Ok("application/pdf")
        );
        assert_eq!(
            decide(
                "日期,金额\n2026-03-01,128.00\n".as_bytes(),
                Some("text/csv"),
                "账单.csv"
            ),
            Ok("text/csv")
        );
        assert_eq!(decide(b"hello\n", None, "notes.txt"), Ok("text/plain"));
    }

    #[test]
    fn disagreements_and_executables_are_refused() {
        assert!(decide(ELF, Some("image/png"), "photo.png").is_err());
        assert!(decide(PNG, Some("application/pdf"), "x").is_err());
        assert!(decide(PNG, None, "statement.pdf").is_err());
        assert!(decide(b"\0\0\0\0binary", None, "a.bin").is_err());
    }

    #[test]
    fn file_names_are_neutralised() {
        assert_eq!(sanitize_file_name("../../etc/passwd"), "passwd");
        assert_eq!(
            sanitize_file_name("C:\\Users\\me\\聊天记录.png"),
            "聊天记录.png"
        );
        assert_eq!(sanitize_file_name("a\0b.png"), "ab.png");
        assert_eq!(sanitize_file_name("..."), "evidence");
        assert_eq!(sanitize_file_name(".hidden"), "hidden");
        assert_eq!(
            sanitize_file_name("名字\u{202E}gnp.exe.png"),
            "名字gnp.exe.png"
        );
        assert_eq!(sanitize_file_name("\u{200B}a\u{2066}.png"), "a.png");
    }
}
