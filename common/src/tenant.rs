//! The tenant configuration (INPUTS.md, ENGAGEMENT.md §7): the raw TOML as
//! written, and the validated settings. Every refusal names its field.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::score::{DEFAULT_WEIGHTS, FEATURES, NUM_FEATURES};

/// Shortest and longest window.
pub const WINDOW_DAYS: std::ops::RangeInclusive<i64> = 1..=1100;

/// A configuration refused: the field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ConfigError {
    /// Dotted path of the field (`tenant.timezone`), or the file.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// `tenant.toml` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTenantConfig {
    /// `[tenant]`.
    pub tenant: RawTenant,
    /// `[inputs]`.
    pub inputs: RawInputs,
    /// `[score]`.
    #[serde(default)]
    pub score: RawScore,
    /// `[privacy]`.
    #[serde(default)]
    pub privacy: RawPrivacy,
}

/// `[privacy]` as written (ENGAGEMENT.md §9).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrivacy {
    /// Rows with fewer distinct org people are left out; 0 (default) is off.
    pub min_org_people: Option<toml::Value>,
}

/// `[tenant]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTenant {
    /// Tenant id.
    pub id: String,
    /// IANA time zone name.
    pub timezone: Option<String>,
    /// A date, as a TOML date or a string.
    pub as_of: Option<toml::Value>,
    /// Window length in days.
    pub window_days: Option<toml::Value>,
}

/// `[inputs]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInputs {
    /// Org users CSV.
    pub org_users: String,
    /// Contacts CSV.
    pub contacts: String,
    /// Account domains CSV.
    pub account_domains: String,
    /// Activity sources.
    pub activity: Vec<ActivitySource>,
}

/// `[score]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScore {
    /// Feature name → weight.
    #[serde(default)]
    pub weights: BTreeMap<String, toml::Value>,
}

/// Activity file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// The canonical JSON lines.
    Jsonl,
    /// Microsoft Graph resources.
    Graph,
    /// mbox / .eml.
    Mbox,
    /// iCalendar.
    Ics,
}

/// One `[[inputs.activity]]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivitySource {
    /// The format.
    pub format: Format,
    /// Path or glob, relative to the configuration's folder.
    pub path: String,
}

/// Validated tenant settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantSettings {
    /// Tenant id.
    pub id: String,
    /// Time zone name (validated).
    pub timezone: String,
    /// `as_of`.
    pub as_of: NaiveDate,
    /// Window length.
    pub window_days: u32,
    /// Weights in [`FEATURES`] order.
    pub weights: [u32; NUM_FEATURES],
    /// The privacy floor: rows with fewer distinct org people are left out
    /// of the outputs (ENGAGEMENT.md §9); 0 is off.
    #[serde(default)]
    pub min_org_people: u32,
}

impl TenantSettings {
    /// The time zone.
    pub fn tz(&self) -> Tz {
        self.timezone
            .parse()
            .expect("the time zone was validated when the settings were made")
    }
}

/// Parses the TOML text.
pub fn parse_toml(text: &str) -> Result<RawTenantConfig, ConfigError> {
    toml::from_str(text).map_err(|e| {
        let message = e.message().to_owned();
        ConfigError::new("tenant.toml", message)
    })
}

fn parse_date(value: &toml::Value) -> Option<NaiveDate> {
    let text = match value {
        toml::Value::String(s) => s.trim().to_owned(),
        toml::Value::Datetime(d) if d.time.is_none() && d.offset.is_none() => d.to_string(),
        _ => return None,
    };
    NaiveDate::parse_from_str(&text, "%Y-%m-%d").ok()
}

/// Validates `[tenant]` and `[score]`; `today` gives the default `as_of` in a zone.
pub fn validate(
    raw: &RawTenantConfig,
    today: impl Fn(&Tz) -> NaiveDate,
) -> Result<TenantSettings, ConfigError> {
    let timezone = raw
        .tenant
        .timezone
        .clone()
        .unwrap_or_else(|| "UTC".to_owned());
    let tz: Tz = timezone.parse().map_err(|_| {
        ConfigError::new("tenant.timezone", format!("unknown time zone {timezone:?}"))
    })?;
    let as_of = match &raw.tenant.as_of {
        None => today(&tz),
        Some(v) => parse_date(v).ok_or_else(|| {
            ConfigError::new("tenant.as_of", format!("not a date (YYYY-MM-DD): {v}"))
        })?,
    };
    let window_days = match &raw.tenant.window_days {
        None => 365,
        Some(toml::Value::Integer(n)) if WINDOW_DAYS.contains(n) => *n as u32,
        Some(v) => {
            return Err(ConfigError::new(
                "tenant.window_days",
                format!("must be a whole number in 1..=1100, got {v}"),
            ))
        }
    };
    let mut weights = DEFAULT_WEIGHTS;
    for (name, value) in &raw.score.weights {
        let field = format!("score.weights.{name}");
        let i = FEATURES.iter().position(|f| f == name).ok_or_else(|| {
            ConfigError::new(
                &field,
                format!("unknown feature (expected one of {})", FEATURES.join(", ")),
            )
        })?;
        weights[i] = match value {
            toml::Value::Integer(n) if (0..=100).contains(n) => *n as u32,
            v => {
                return Err(ConfigError::new(
                    &field,
                    format!("must be a whole number >= 0, got {v}"),
                ))
            }
        };
    }
    let sum: u32 = weights.iter().sum();
    if sum != 100 {
        return Err(ConfigError::new(
            "score.weights",
            format!("weights add up to {sum}, not 100"),
        ));
    }
    if raw.tenant.id.trim().is_empty() {
        return Err(ConfigError::new("tenant.id", "must not be empty"));
    }
    let min_org_people = match &raw.privacy.min_org_people {
        None => 0,
        Some(toml::Value::Integer(n)) if (0..=i64::from(u32::MAX)).contains(n) => *n as u32,
        Some(v) => {
            return Err(ConfigError::new(
                "privacy.min_org_people",
                format!("must be a whole number >= 0, got {v}"),
            ))
        }
    };
    Ok(TenantSettings {
        id: raw.tenant.id.clone(),
        timezone,
        as_of,
        window_days,
        weights,
        min_org_people,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[tenant]
id = "t"
timezone = "Europe/Stockholm"
as_of = "2026-06-30"
[inputs]
org_users = "o.csv"
contacts = "c.csv"
account_domains = "d.csv"
[[inputs.activity]]
format = "jsonl"
path = "a/*.jsonl"
"#;

    fn today(_: &Tz) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 29).expect("date")
    }

    fn check(extra_tenant: &str, score: &str) -> Result<TenantSettings, ConfigError> {
        let text = BASE.replace("[inputs]", &format!("{extra_tenant}\n[inputs]")) + score;
        validate(&parse_toml(&text)?, today)
    }

    #[test]
    fn defaults_apply() {
        let s = check("", "").expect("valid");
        assert_eq!(s.window_days, 365);
        assert_eq!(s.weights, DEFAULT_WEIGHTS);
        let text = BASE
            .replace("timezone = \"Europe/Stockholm\"\n", "")
            .replace("as_of = \"2026-06-30\"\n", "");
        let s = validate(&parse_toml(&text).expect("toml"), today).expect("valid");
        assert_eq!((s.timezone.as_str(), s.as_of), ("UTC", today(&Tz::UTC)));
    }

    #[test]
    fn bad_settings_name_their_field() {
        let field = |r: Result<TenantSettings, ConfigError>| r.expect_err("refused").field;
        let bad_zone = BASE.replace("Europe/Stockholm", "Mars/Base");
        assert_eq!(
            field(validate(&parse_toml(&bad_zone).expect("toml"), today)),
            "tenant.timezone"
        );
        let bad_date = BASE.replace("2026-06-30", "2026-02-30");
        assert_eq!(
            field(validate(&parse_toml(&bad_date).expect("toml"), today)),
            "tenant.as_of"
        );
        assert_eq!(field(check("window_days = 0", "")), "tenant.window_days");
        assert_eq!(field(check("window_days = 1101", "")), "tenant.window_days");
        assert_eq!(field(check("window_days = 1.5", "")), "tenant.window_days");
        assert_eq!(
            field(check("", "[score.weights]\nemails = 30\n")),
            "score.weights"
        );
        assert_eq!(
            field(check("", "[score.weights]\nemails = 25.0\n")),
            "score.weights.emails"
        );
        assert_eq!(
            field(check("", "[score.weights]\nemails = -5\nmeetings = 55\n")),
            "score.weights.emails"
        );
        assert_eq!(
            field(check("", "[score.weights]\nlikes = 0\n")),
            "score.weights.likes"
        );
    }

    #[test]
    fn weights_override_defaults() {
        let s = check(
            "window_days = 1100",
            "[score.weights]\nemails = 35\nreciprocity = 0\n",
        )
        .expect("valid");
        assert_eq!(s.weights, [35, 25, 20, 20, 0]);
        assert_eq!(s.window_days, 1100);
    }

    #[test]
    fn as_of_accepts_a_toml_date() {
        let text = BASE.replace("\"2026-06-30\"", "2026-06-30");
        let s = validate(&parse_toml(&text).expect("toml"), today).expect("valid");
        assert_eq!(s.as_of, NaiveDate::from_ymd_opt(2026, 6, 30).expect("date"));
    }

    #[test]
    fn the_privacy_floor_is_off_by_default_and_checked() {
        assert_eq!(check("", "").expect("valid").min_org_people, 0);
        let s = check("", "[privacy]\nmin_org_people = 3\n").expect("valid");
        assert_eq!(s.min_org_people, 3);
        for bad in ["-1", "2.5", "\"3\""] {
            let text = format!("[privacy]\nmin_org_people = {bad}\n");
            assert_eq!(field(check("", &text)), "privacy.min_org_people");
        }
        assert_eq!(field(check("", "[privacy]\nfloor = 3\n")), "tenant.toml");
    }

    fn field(r: Result<TenantSettings, ConfigError>) -> String {
        r.expect_err("refused").field
    }
}
