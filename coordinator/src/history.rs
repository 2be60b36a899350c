//! Run history: every succeeded run's outputs are kept under the history
//! root, in a folder per tenant and run, `ROOT/TENANT/STAMP-RUN_ID/`,
//! where STAMP is the UTC time the run finished (`20261202T151300123Z`, to
//! the millisecond), so
//! names sort by time and the run before a run is the folder before its
//! own. The newest `keep` runs of a tenant are kept; older ones are
//! removed when a run is added.
//!
//! Beside the outputs, each kept run has `year_scores.csv`
//! (`AccountId,AggregationStartDate,EngagementScore` of every Year row),
//! so an account's score over the kept runs is read without the whole
//! results of each.
//!
//! Files are hard-linked from the output folder (a later run renames new
//! files over the outputs, so the linked ones never change), or copied
//! where the two folders are on different file systems. A run's folder
//! appears whole: it is filled under a hidden name, then renamed.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

/// Where history is kept and how much.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistorySettings {
    /// The history root.
    pub root: PathBuf,
    /// Runs kept per tenant (at least 1).
    pub keep: usize,
}

/// One kept run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptRun {
    /// Its folder.
    pub dir: PathBuf,
    /// The run id.
    pub run_id: String,
    /// When it finished, as its folder name says (`20261202T151300Z`).
    pub stamp: String,
}

/// A history operation that failed, with the path.
#[derive(Debug, thiserror::Error)]
#[error("run history: {context}: {source}")]
pub struct HistoryError {
    context: String,
    #[source]
    source: std::io::Error,
}

fn io(context: String) -> impl FnOnce(std::io::Error) -> HistoryError {
    move |source| HistoryError { context, source }
}

/// A tenant id as a folder name: letters, digits, `-`, `_` and inner `.`
/// as they are; any other byte as `%XX`. Two ids never share a folder.
pub fn tenant_folder(tenant: &str) -> String {
    let mut out = String::new();
    for (i, b) in tenant.bytes().enumerate() {
        let plain = b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || (b == b'.' && i > 0);
        if plain {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn stamp(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%S%3fZ").to_string()
}

/// The kept runs of `tenant`, oldest first.
pub fn runs_of(root: &Path, tenant: &str) -> Result<Vec<KeptRun>, HistoryError> {
    let dir = root.join(tenant_folder(tenant));
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(format!("cannot list {}", dir.display()))(e)),
    };
    let mut runs = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io(format!("cannot list {}", dir.display())))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        if let Some((stamp, run_id)) = name.split_once('-') {
            runs.push(KeptRun {
                dir: entry.path(),
                run_id: run_id.to_owned(),
                stamp: stamp.to_owned(),
            });
        }
    }
    runs.sort_by(|a, b| (&a.stamp, &a.run_id).cmp(&(&b.stamp, &b.run_id)));
    Ok(runs)
}

/// The kept run `run_id` of `tenant`, and the one before it.
pub fn find(
    root: &Path,
    tenant: &str,
    run_id: &str,
) -> Result<Option<(KeptRun, Option<KeptRun>)>, HistoryError> {
    let runs = runs_of(root, tenant)?;
    Ok(runs.iter().position(|r| r.run_id == run_id).map(|i| {
        let previous = i.checked_sub(1).map(|p| runs[p].clone());
        (runs[i].clone(), previous)
    }))
}

fn link_or_copy(from: &Path, to: &Path) -> std::io::Result<()> {
    match std::fs::hard_link(from, to) {
        Ok(()) => Ok(()),
        Err(e) => {
            tracing::debug!(error = %e, "no hard link; copying the file into the history");
            std::fs::copy(from, to).map(|_| ())
        }
    }
}

/// Keeps the files `names` of the output folder `out` as the run
/// `run_id` of `tenant`, finished `at`; then removes the tenant's oldest
/// runs beyond `settings.keep`.
pub fn keep_run(
    settings: &HistorySettings,
    tenant: &str,
    run_id: &str,
    at: DateTime<Utc>,
    out: &Path,
    names: &[&str],
) -> Result<KeptRun, HistoryError> {
    let tenant_dir = settings.root.join(tenant_folder(tenant));
    std::fs::create_dir_all(&tenant_dir)
        .map_err(io(format!("cannot create {}", tenant_dir.display())))?;
    let hidden = tenant_dir.join(format!(".incoming-{run_id}"));
    if hidden.exists() {
        std::fs::remove_dir_all(&hidden)
            .map_err(io(format!("cannot clear {}", hidden.display())))?;
    }
    std::fs::create_dir(&hidden).map_err(io(format!("cannot create {}", hidden.display())))?;
    for name in names {
        link_or_copy(&out.join(name), &hidden.join(name))
            .map_err(io(format!("cannot keep {name} of {}", out.display())))?;
    }
    write_year_scores(&hidden)?;
    let kept = KeptRun {
        dir: tenant_dir.join(format!("{}-{run_id}", stamp(at))),
        run_id: run_id.to_owned(),
        stamp: stamp(at),
    };
    // A rerun of the same run id (a resumed run writing again) replaces it.
    for old in runs_of(&settings.root, tenant)?
        .iter()
        .filter(|r| r.run_id == run_id)
    {
        std::fs::remove_dir_all(&old.dir)
            .map_err(io(format!("cannot replace {}", old.dir.display())))?;
    }
    std::fs::rename(&hidden, &kept.dir)
        .map_err(io(format!("cannot add {}", kept.dir.display())))?;
    let runs = runs_of(&settings.root, tenant)?;
    let excess = runs.len().saturating_sub(settings.keep.max(1));
    for old in &runs[..excess] {
        std::fs::remove_dir_all(&old.dir)
            .map_err(io(format!("cannot remove {}", old.dir.display())))?;
    }
    Ok(kept)
}

/// The file of a kept run's Year scores.
pub const YEAR_SCORES: &str = "year_scores.csv";

/// Writes `YEAR_SCORES` from the kept `account_engagement.csv`, streaming.
fn write_year_scores(dir: &Path) -> Result<(), HistoryError> {
    let source = dir.join("account_engagement.csv");
    let target = dir.join(YEAR_SCORES);
    let read_error = |e: csv::Error| HistoryError {
        context: format!("cannot read {}", source.display()),
        source: std::io::Error::other(e.to_string()),
    };
    let write_error = |e: csv::Error| HistoryError {
        context: format!("cannot write {}", target.display()),
        source: std::io::Error::other(e.to_string()),
    };
    let mut reader = csv::Reader::from_path(&source).map_err(read_error)?;
    let mut writer = csv::Writer::from_path(&target).map_err(write_error)?;
    writer
        .write_record(["AccountId", "AggregationStartDate", "EngagementScore"])
        .map_err(write_error)?;
    let mut record = csv::StringRecord::new();
    while reader.read_record(&mut record).map_err(read_error)? {
        if record.get(16) == Some("Year") {
            let (id, score, start) = (&record[0], &record[1], &record[15]);
            writer
                .write_record([id, start, score])
                .map_err(write_error)?;
        }
    }
    writer.flush().map_err(|e| HistoryError {
        context: format!("cannot write {}", target.display()),
        source: e,
    })
}

/// One account's Year scores in a kept run: (AggregationStartDate, score).
pub fn year_scores_of(run_dir: &Path, account: &str) -> Result<Vec<(String, u32)>, HistoryError> {
    let path = run_dir.join(YEAR_SCORES);
    let text =
        std::fs::read_to_string(&path).map_err(io(format!("cannot read {}", path.display())))?;
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let mut out = Vec::new();
    for record in reader.records().flatten() {
        if record.get(0) == Some(account) {
            if let (Some(start), Some(Ok(score))) = (record.get(1), record.get(2).map(str::parse)) {
                out.push((start.to_owned(), score));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_folders_are_safe_and_distinct() {
        assert_eq!(tenant_folder("contoso-eu_1.a"), "contoso-eu_1.a");
        assert_eq!(tenant_folder(".."), "%2E.");
        assert_eq!(tenant_folder("a/b"), "a%2Fb");
        assert_ne!(tenant_folder("a%2Fb"), tenant_folder("a/b"));
    }

    #[test]
    fn runs_are_kept_in_time_order_and_the_oldest_go_beyond_keep() {
        let dir = tempfile::tempdir().expect("dir");
        let out = dir.path().join("out");
        std::fs::create_dir(&out).expect("out");
        let settings = HistorySettings {
            root: dir.path().join("history"),
            keep: 2,
        };
        let t0 = DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .expect("time")
            .to_utc();
        let line = |id: &str| {
            format!(
                "{}\n{id},47,1,0,0,0,0,1,0,1,2026-01-05,3,,,,2026-01-01,Year\n{id},40,1,0,0,0,0,1,0,1,2026-01-05,3,,,,2026-01-01,Month\n",
                rapport_common::row::HEADER
            )
        };
        for (i, run) in ["r-c", "r-a", "r-b"].iter().enumerate() {
            // As the writer does: a new file renamed over the old one.
            std::fs::write(out.join("x.tmp"), line(run)).expect("write");
            std::fs::rename(out.join("x.tmp"), out.join("account_engagement.csv")).expect("rename");
            let at = t0 + chrono::Duration::days(i as i64);
            keep_run(&settings, "t/1", run, at, &out, &["account_engagement.csv"]).expect("kept");
        }
        let runs = runs_of(&settings.root, "t/1").expect("runs");
        let ids: Vec<&str> = runs.iter().map(|r| r.run_id.as_str()).collect();
        assert_eq!(ids, ["r-a", "r-b"]);
        assert_eq!(
            std::fs::read_to_string(runs[0].dir.join("account_engagement.csv")).expect("kept"),
            line("r-a")
        );
        assert_eq!(
            year_scores_of(&runs[0].dir, "r-a").expect("scores"),
            [("2026-01-01".to_owned(), 47)]
        );
        let (run, previous) = find(&settings.root, "t/1", "r-b")
            .expect("find")
            .expect("kept");
        assert_eq!(
            (run.run_id.as_str(), previous.map(|p| p.run_id)),
            ("r-b", Some("r-a".to_owned()))
        );
        assert_eq!(find(&settings.root, "t/1", "r-c").expect("find"), None);
        assert!(runs_of(&settings.root, "other").expect("runs").is_empty());
    }
}
