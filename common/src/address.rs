//! Address normalisation and validity (ENGAGEMENT.md §1 "Addresses"), and the
//! stable person id that stands for an address everywhere after ingest, so
//! that staging, partials and logs never hold an address.

use xxhash_rust::xxh3::xxh3_64;

/// Normalises an address: trims white space, lower-cases, strips one pair of
/// surrounding `<>` (and the white space inside it). Returns `None` when the
/// result is not a valid address (exactly one `@`, text on both sides).
pub fn normalise(raw: &str) -> Option<String> {
    let mut out = String::new();
    normalise_into(raw, &mut out).then_some(out)
}

/// [`normalise`] into a reused buffer; returns whether the address is valid.
pub fn normalise_into(raw: &str, out: &mut String) -> bool {
    let trimmed = raw.trim();
    let inner = match trimmed.strip_prefix('<').and_then(|s| s.strip_suffix('>')) {
        Some(inner) => inner.trim(),
        None => trimmed,
    };
    out.clear();
    if inner.is_ascii() {
        out.push_str(inner);
        out.make_ascii_lowercase();
    } else {
        out.push_str(&inner.to_lowercase());
    }
    is_valid(out)
}

/// True when `address` holds exactly one `@` with text on both sides.
pub fn is_valid(address: &str) -> bool {
    let bytes = address.as_bytes();
    match memchr::memchr(b'@', bytes) {
        Some(at) => {
            at > 0 && at + 1 < bytes.len() && memchr::memchr(b'@', &bytes[at + 1..]).is_none()
        }
        None => false,
    }
}

/// The domain part of a valid, normalised address.
pub fn domain_of(address: &str) -> &str {
    memchr::memrchr(b'@', address.as_bytes()).map_or(address, |at| &address[at + 1..])
}

/// The domain, then each parent while it keeps at least two labels:
/// `eu.sales.acme.co.uk` → `sales.acme.co.uk` → `acme.co.uk` → `co.uk`.
/// A single-label domain is tried as it is.
pub fn domain_candidates(domain: &str) -> impl Iterator<Item = &str> {
    // Each parent drops the first label, and is tried only if it keeps a dot.
    std::iter::successors(Some(domain), |current| {
        current
            .find('.')
            .map(|i| &current[i + 1..])
            .filter(|rest| rest.contains('.'))
    })
}

/// Stable 64-bit id of a normalised address. Two distinct addresses share an
/// id with probability about 2^-64 per pair; a collision would merge two
/// people in a distinct count, nothing else.
pub fn person_id(normalised: &str) -> u64 {
    xxh3_64(normalised.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_trims_lowercases_and_strips_brackets() {
        assert_eq!(
            normalise("  <Anna@Contoso.COM> ").as_deref(),
            Some("anna@contoso.com")
        );
        assert_eq!(normalise("< bo@x.se >").as_deref(), Some("bo@x.se"));
        assert_eq!(
            normalise("TOVE.EK70@CONTOSO.COM").as_deref(),
            Some("tove.ek70@contoso.com")
        );
    }

    #[test]
    fn normalise_strips_only_one_pair_of_brackets() {
        assert_eq!(normalise("<<a@b.c>>").as_deref(), Some("<a@b.c>"));
    }

    #[test]
    fn valid_address_has_exactly_one_at_with_text_on_both_sides() {
        assert!(is_valid("a@b"));
        assert!(!is_valid("no-at-sign"));
        assert!(!is_valid("@b.com"));
        assert!(!is_valid("a@"));
        assert!(!is_valid("a@b@c"));
        assert!(normalise("").is_none());
    }

    #[test]
    fn parent_domains_stop_at_two_labels() {
        let all: Vec<_> = domain_candidates("eu.sales.acme.co.uk").collect();
        assert_eq!(
            all,
            [
                "eu.sales.acme.co.uk",
                "sales.acme.co.uk",
                "acme.co.uk",
                "co.uk"
            ]
        );
        assert_eq!(
            domain_candidates("acme.com").collect::<Vec<_>>(),
            ["acme.com"]
        );
        assert_eq!(
            domain_candidates("localhost").collect::<Vec<_>>(),
            ["localhost"]
        );
    }

    #[test]
    fn person_id_is_stable() {
        assert_eq!(person_id("a@b.c"), person_id("a@b.c"));
        assert_ne!(person_id("a@b.c"), person_id("a@b.d"));
    }
}
