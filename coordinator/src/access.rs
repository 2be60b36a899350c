//! Who may call the API: bearer tokens with a role, read from a tokens file
//! (a mounted Secret) and read again when it changes.
//!
//! The file holds one token a line, `ROLE TOKEN`, ROLE `viewer` (reads runs
//! and results) or `operator` (also submits, reruns, cancels and
//! schedules); `#` starts a comment. A presented token is compared with
//! every known token in constant time, and no token is ever logged. Without
//! a tokens file ([`Access::Open`]) every caller is an operator: the
//! service allows that only on a loopback address.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Reads runs and results.
    Viewer,
    /// Also submits, reruns, cancels and schedules.
    Operator,
}

impl Role {
    /// The role's name in the tokens file.
    pub fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
        }
    }
}

/// A tokens file that cannot be used. Never holds a token.
#[derive(Debug, thiserror::Error)]
pub enum TokensError {
    /// A line is not `ROLE TOKEN`.
    #[error("{path} line {line}: {what}")]
    Invalid {
        /// The file.
        path: String,
        /// The line, from 1.
        line: usize,
        /// What is wrong (never the token).
        what: &'static str,
    },
    /// The file cannot be read.
    #[error("{path}: {source}")]
    Unreadable {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// The shortest token accepted: a guessable token is refused at load.
pub const MIN_TOKEN_LEN: usize = 16;

/// The largest tokens file read.
const MAX_TOKENS_FILE: u64 = 1024 * 1024;

/// The known tokens and their roles.
#[derive(Debug, Default)]
pub struct Tokens {
    entries: Vec<(Role, Vec<u8>)>,
}

impl Tokens {
    /// Parses a tokens file's text; `path` names it in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Tokens, TokensError> {
        let invalid = |line: usize, what| TokensError::Invalid {
            path: path.display().to_string(),
            line,
            what,
        };
        let mut entries = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or_default().trim();
            if line.is_empty() {
                continue;
            }
            let mut words = line.split_whitespace();
            let role = match words.next() {
                Some("viewer") => Role::Viewer,
                Some("operator") => Role::Operator,
                _ => return Err(invalid(i + 1, "the role must be viewer or operator")),
            };
            let Some(token) = words.next() else {
                return Err(invalid(i + 1, "a role without a token"));
            };
            if words.next().is_some() {
                return Err(invalid(i + 1, "expected ROLE TOKEN and nothing more"));
            }
            if token.len() < MIN_TOKEN_LEN {
                return Err(invalid(i + 1, "a token must be at least 16 characters"));
            }
            entries.push((role, token.as_bytes().to_vec()));
        }
        Ok(Tokens { entries })
    }

    /// The role of `presented`, comparing it with every token in constant
    /// time (the time taken does not depend on which token, if any,
    /// matches, nor on where a near miss differs).
    pub fn role_of(&self, presented: &[u8]) -> Option<Role> {
        let mut found = None;
        for (role, token) in &self.entries {
            if equal_in_constant_time(token, presented) {
                found = found.max(Some(*role));
            }
        }
        found
    }

    /// How many tokens there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Compares two byte strings without an early exit: every byte of the
/// longer is visited.
fn equal_in_constant_time(known: &[u8], presented: &[u8]) -> bool {
    let n = known.len().max(presented.len());
    let mut diff = u8::from(known.len() != presented.len());
    for i in 0..n {
        let a = known.get(i).copied().unwrap_or(0);
        let b = presented.get(i).copied().unwrap_or(0);
        diff |= a ^ b;
    }
    std::hint::black_box(diff) == 0
}

/// What the file looked like when last read: a change to any of these
/// reloads it (a Kubernetes Secret update swaps a symlink, which changes
/// the modification time and inode seen through it).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

fn stamp_of(meta: &std::fs::Metadata) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    Stamp {
        modified: meta.modified().ok(),
        len: meta.len(),
        inode: meta.ino(),
    }
}

/// A tokens file, read at start and again whenever it changes.
#[derive(Debug)]
pub struct TokenFile {
    path: PathBuf,
    current: RwLock<(Stamp, Arc<Tokens>)>,
}

/// How often the tokens file is looked at for changes.
pub const RELOAD_EVERY: Duration = Duration::from_secs(2);

impl TokenFile {
    /// Reads the tokens file; an unreadable or invalid file, or one
    /// without any token, is an error.
    pub fn load(path: &Path) -> Result<TokenFile, TokensError> {
        let (stamp, tokens) = read_tokens(path)?;
        if tokens.is_empty() {
            return Err(TokensError::Invalid {
                path: path.display().to_string(),
                line: 0,
                what: "no token in the file",
            });
        }
        Ok(TokenFile {
            path: path.to_owned(),
            current: RwLock::new((stamp, Arc::new(tokens))),
        })
    }

    /// The tokens now.
    pub fn tokens(&self) -> Arc<Tokens> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .1
            .clone()
    }

    /// Reads the file again if it changed. A file that became invalid is
    /// logged and the tokens already known stay in force.
    pub fn reload_if_changed(&self) {
        let Ok(meta) = std::fs::metadata(&self.path) else {
            warn!("the tokens file cannot be read; the tokens already loaded stay in force");
            return;
        };
        let unchanged = self.current.read().unwrap_or_else(|p| p.into_inner()).0 == stamp_of(&meta);
        if unchanged {
            return;
        }
        match read_tokens(&self.path) {
            Ok((stamp, tokens)) => {
                info!(tokens = tokens.len(), "tokens file reloaded");
                *self.current.write().unwrap_or_else(|p| p.into_inner()) =
                    (stamp, Arc::new(tokens));
            }
            Err(e) => {
                warn!(error = %e, "the tokens file changed but is invalid; the tokens already loaded stay in force")
            }
        }
    }

    /// Looks at the file every [`RELOAD_EVERY`] until `shutdown`.
    pub async fn watch(self: Arc<Self>, shutdown: CancellationToken) {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(RELOAD_EVERY) => {}
            }
            let file = self.clone();
            // A stat and a small read: off the async runtime all the same.
            let _ = tokio::task::spawn_blocking(move || file.reload_if_changed()).await;
        }
    }
}

fn read_tokens(path: &Path) -> Result<(Stamp, Tokens), TokensError> {
    use std::io::Read;
    let unreadable = |source| TokensError::Unreadable {
        path: path.display().to_string(),
        source,
    };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let meta = file.metadata().map_err(unreadable)?;
    if !meta.is_file() {
        return Err(unreadable(std::io::Error::other("not a regular file")));
    }
    let mut text = String::new();
    file.take(MAX_TOKENS_FILE)
        .read_to_string(&mut text)
        .map_err(unreadable)?;
    Ok((stamp_of(&meta), Tokens::parse(path, &text)?))
}

/// How callers are authenticated.
#[derive(Debug, Clone)]
pub enum Access {
    /// No tokens file: every caller may do everything (loopback only).
    Open,
    /// Bearer tokens from a file.
    Tokens(Arc<TokenFile>),
}

/// The outcome of checking a request's `Authorization` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The caller may go on.
    Allowed(Role),
    /// No valid token: 401.
    Unauthenticated,
    /// A valid token whose role may not do this: 403.
    Forbidden(Role),
}

impl Access {
    /// The role of a presented token (the pages' cookie); every caller is
    /// an operator without a tokens file.
    pub fn role_of_token(&self, token: &[u8]) -> Option<Role> {
        match self {
            Access::Open => Some(Role::Operator),
            Access::Tokens(file) => file.tokens().role_of(token.trim_ascii()),
        }
    }

    /// Whether the `Authorization` header `header` allows what needs `needed`.
    pub fn check(&self, header: Option<&[u8]>, needed: Role) -> Verdict {
        let role = match self {
            Access::Open => Role::Operator,
            Access::Tokens(file) => {
                let token = header
                    .filter(|h| h.len() > 7 && h[..7].eq_ignore_ascii_case(b"bearer "))
                    .map(|h| &h[7..]);
                match token.and_then(|t| file.tokens().role_of(t.trim_ascii())) {
                    Some(role) => role,
                    None => return Verdict::Unauthenticated,
                }
            }
        };
        if role >= needed {
            Verdict::Allowed(role)
        } else {
            Verdict::Forbidden(role)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VIEWER: &str = "viewer-token-0123456789";
    const OPERATOR: &str = "operator-token-0123456789";

    fn file(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("tokens");
        std::fs::write(&path, text).expect("tokens");
        path
    }

    #[test]
    fn roles_are_checked_and_tokens_compared_exactly() {
        let dir = tempfile::tempdir().expect("dir");
        let text = format!("# comment\nviewer {VIEWER}\n\noperator {OPERATOR} # ops\n");
        let access = Access::Tokens(Arc::new(
            TokenFile::load(&file(dir.path(), &text)).expect("loads"),
        ));
        let bearer = |t: &str| format!("Bearer {t}").into_bytes();
        let check = |h: Option<Vec<u8>>, needed| access.check(h.as_deref(), needed);
        assert_eq!(check(None, Role::Viewer), Verdict::Unauthenticated);
        assert_eq!(
            check(Some(VIEWER.into()), Role::Viewer),
            Verdict::Unauthenticated,
            "a token without the Bearer scheme"
        );
        let near = &VIEWER[..VIEWER.len() - 1];
        for wrong in [near, "", "viewer-token-0123456789x"] {
            assert_eq!(
                check(Some(bearer(wrong)), Role::Viewer),
                Verdict::Unauthenticated
            );
        }
        assert_eq!(
            check(Some(bearer(VIEWER)), Role::Viewer),
            Verdict::Allowed(Role::Viewer)
        );
        assert_eq!(
            check(Some(bearer(VIEWER)), Role::Operator),
            Verdict::Forbidden(Role::Viewer)
        );
        assert_eq!(
            check(Some(bearer(OPERATOR)), Role::Operator),
            Verdict::Allowed(Role::Operator)
        );
        assert_eq!(
            Access::Open.check(None, Role::Operator),
            Verdict::Allowed(Role::Operator)
        );
    }

    #[test]
    fn a_bad_file_names_the_line_never_the_token() {
        let dir = tempfile::tempdir().expect("dir");
        for (text, what) in [
            ("admin secret-secret-secret-1\n", "line 1: the role must be"),
            ("viewer\n", "a role without a token"),
            ("operator short\n", "at least 16"),
            ("# nothing\n", "no token"),
        ] {
            let err = TokenFile::load(&file(dir.path(), text)).expect_err("refused");
            let shown = err.to_string();
            assert!(shown.contains(what), "{shown}");
            assert!(
                !shown.contains("secret") && !shown.contains("short"),
                "{shown}"
            );
        }
    }

    #[test]
    fn a_changed_file_is_reloaded_and_a_broken_one_ignored() {
        let dir = tempfile::tempdir().expect("dir");
        let path = file(dir.path(), &format!("viewer {VIEWER}\n"));
        let tokens = TokenFile::load(&path).expect("loads");
        assert_eq!(
            tokens.tokens().role_of(VIEWER.as_bytes()),
            Some(Role::Viewer)
        );
        // A new file in place, as a Secret update does.
        let next = dir.path().join("next");
        std::fs::write(&next, format!("operator {OPERATOR}\n")).expect("next");
        std::fs::rename(&next, &path).expect("swap");
        tokens.reload_if_changed();
        assert_eq!(tokens.tokens().role_of(VIEWER.as_bytes()), None);
        assert_eq!(
            tokens.tokens().role_of(OPERATOR.as_bytes()),
            Some(Role::Operator)
        );
        std::fs::write(&next, "nonsense\n").expect("next");
        std::fs::rename(&next, &path).expect("swap");
        tokens.reload_if_changed();
        assert_eq!(
            tokens.tokens().role_of(OPERATOR.as_bytes()),
            Some(Role::Operator)
        );
    }

    #[test]
    fn constant_time_equality_is_equality() {
        for (a, b) in [
            ("", ""),
            ("a", ""),
            ("ab", "ab"),
            ("ab", "ac"),
            ("abc", "ab"),
        ] {
            assert_eq!(
                equal_in_constant_time(a.as_bytes(), b.as_bytes()),
                a == b,
                "{a} {b}"
            );
        }
    }
}
