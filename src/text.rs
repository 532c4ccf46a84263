//! The one set of rules for free text in requests: no control characters (PostgreSQL cannot
//! store NUL, and the others only hide text from readers of letters and rosters), and
//! something a reader can see once the text is trimmed (zero-width spaces, a BOM and the like
//! do not count). Used by the DTOs through `#[validate(custom(function = "…"))]`.

use validator::{ValidateEmail, ValidationError};

/// Zero-width and other format characters that render as nothing: a name made only of these
/// looks blank on a letter, and the bidirectional overrides among them can make a file name
/// read backwards (`x\u{202E}gnp.exe` shows as `xexe.png`).
#[must_use]
pub fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{2800}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

fn visible(c: char) -> bool {
    !c.is_whitespace() && !c.is_control() && !invisible(c)
}

fn controls() -> ValidationError {
    ValidationError::new("control_characters")
        .with_message("must not contain control characters".into())
}

fn blank() -> ValidationError {
    ValidationError::new("blank").with_message("must not be blank".into())
}

/// `c` is a C0 or C1 control, or DEL, that a multi-line text may not hold (newline, carriage
/// return and tab it may).
fn bad_in_block(c: char) -> bool {
    c.is_control() && !matches!(c, '\n' | '\r' | '\t')
}

/// One line of text (a name, a title, a reference): no control characters at all, and at least
/// one visible character.
///
/// # Errors
/// `control_characters` or `blank`.
pub fn line(s: &str) -> Result<(), ValidationError> {
    if s.chars().any(char::is_control) {
        return Err(controls());
    }
    if !s.chars().any(visible) {
        return Err(blank());
    }
    Ok(())
}

/// Text of several lines (a statement, a summary): newlines and tabs allowed, other control
/// characters not, and at least one visible character.
///
/// # Errors
/// `control_characters` or `blank`.
pub fn block(s: &str) -> Result<(), ValidationError> {
    if s.chars().any(bad_in_block) {
        return Err(controls());
    }
    if !s.chars().any(visible) {
        return Err(blank());
    }
    Ok(())
}

/// An optional line that may be left empty (all whitespace means "none"); when it holds
/// anything else, the rules of [`line`].
///
/// # Errors
/// `control_characters` or `blank`.
pub fn line_or_empty(s: &str) -> Result<(), ValidationError> {
    if s.trim().is_empty() {
        return Ok(());
    }
    line(s)
}

/// An optional text of several lines that may be left empty; otherwise the rules of [`block`].
///
/// # Errors
/// `control_characters` or `blank`.
pub fn block_or_empty(s: &str) -> Result<(), ValidationError> {
    if s.trim().is_empty() {
        return Ok(());
    }
    block(s)
}

/// A list of lines (aliases, references): each by the rules of [`line`].
///
/// # Errors
/// `control_characters` or `blank`.
pub fn lines(items: &[String]) -> Result<(), ValidationError> {
    items.iter().try_for_each(|s| line(s))
}

/// A search term: anything but control characters (an empty one means "no filter").
///
/// # Errors
/// `control_characters`.
pub fn search(s: &str) -> Result<(), ValidationError> {
    if s.chars().any(char::is_control) {
        return Err(controls());
    }
    Ok(())
}

/// An email address: the HTML form rules `validator` checks, plus a domain of at least two
/// labels (`a@b` is the syntax of a local host, not an address mail can reach), no label empty.
///
/// # Errors
/// `email`.
pub fn email(s: &str) -> Result<(), ValidationError> {
    let bad = || ValidationError::new("email").with_message("must be a valid email address".into());
    if !s.validate_email() || s.chars().any(char::is_control) {
        return Err(bad());
    }
    let domain = s.rsplit_once('@').map_or("", |(_, d)| d);
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 || labels.iter().any(|l| l.is_empty()) {
        return Err(bad());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_and_control_characters_are_refused() {
        assert!(line("张三").is_ok());
        assert!(line("\u{200B}\u{200B}\u{200B}\u{200B}\u{200B}").is_err());
        assert!(line("\u{FEFF} \u{3000}").is_err());
        assert!(line("a\u{0}b").is_err());
        assert!(line("a\u{85}b").is_err());
        assert!(line("a\nb").is_err());
        assert!(block("a\nb\tc\r\n").is_ok());
        assert!(block("a\u{0}b").is_err());
        assert!(block(&" ".repeat(30)).is_err());
        assert!(line_or_empty("").is_ok());
        assert!(line_or_empty("\u{200B}").is_err());
        assert!(search("").is_ok());
        assert!(search("a\u{0}").is_err());
    }

    #[test]
    fn an_email_address_needs_a_dotted_domain() {
        assert!(email("a@b").is_err());
        assert!(email("a@b.").is_err());
        assert!(email("a@.b").is_err());
        assert!(email("li.lei@example.cn").is_ok());
    }
}
