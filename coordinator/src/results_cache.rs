//! A succeeded run's results, as the API's segments and the account pages
//! read them: found in the run history (`ROOT/TENANT/STAMP-RUN/`), else in
//! the run's output folder (or its output set on object storage) while its
//! `run_report.json` still names the run; read once off the async runtime,
//! and held for the next requests (the few most recent runs asked for).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use object_store::ObjectStoreExt;
use rapport_backend::object_url::{describe, is_object_url, open_store, ObjectUrl, StoreOptions};
use rapport_common::report::RunReport;
use rapport_common::results::read_results;
use rapport_common::run_results::RunResults;

use crate::history::{self, HistorySettings, KeptRun};
use crate::run_record::{RunRecord, RunStatus};
use crate::writer::REPORT_FILE;

/// Runs held at once.
const HELD: usize = 4;

/// The CSV read.
const RESULTS_FILE: &str = "account_engagement.csv";

/// A run's results with its report and where they were read.
#[derive(Debug)]
pub struct LoadedRun {
    /// The rows.
    pub results: RunResults,
    /// The run's report.
    pub report: RunReport,
    /// The folder read.
    pub dir: PathBuf,
    /// The run before it of the same tenant, in the history.
    pub previous: Option<String>,
    /// Every kept run of the tenant, oldest first.
    pub kept: Vec<KeptRun>,
}

/// Why a run's results cannot be shown.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    /// The run has not succeeded.
    #[error("run {0} has no results: it has not succeeded")]
    NotSucceeded(String),
    /// Neither the history nor the output folder holds them any more.
    #[error("the results of run {0} are no longer kept (a later run replaced them and the history does not hold it)")]
    Gone(String),
    /// A file could not be read.
    #[error("{0}")]
    Unreadable(String),
}

/// The runs read lately.
#[derive(Debug, Default)]
pub struct ResultsCache {
    held: Mutex<Vec<(String, Arc<LoadedRun>)>>,
    /// How outputs on object storage are reached.
    stores: StoreOptions,
}

impl ResultsCache {
    /// A cache that reads outputs on object storage with `stores`.
    pub fn new(stores: StoreOptions) -> ResultsCache {
        ResultsCache {
            held: Mutex::default(),
            stores,
        }
    }

    /// The results of `record` (a succeeded run), read now or earlier.
    pub async fn load(
        &self,
        record: &RunRecord,
        history: Option<&HistorySettings>,
    ) -> Result<Arc<LoadedRun>, ResultsError> {
        if record.status != RunStatus::Succeeded {
            return Err(ResultsError::NotSucceeded(record.run_id.clone()));
        }
        if let Some(found) = self.held_run(&record.run_id) {
            return Ok(found);
        }
        let (kept_record, history) = (record.clone(), history.cloned());
        let kept = blocking(move || read_kept(&kept_record, history.as_ref())).await?;
        let run = record.run_id.clone();
        let loaded = match kept {
            Some(loaded) => loaded,
            None if is_object_url(&record.out) => {
                let (report, csv) = self.fetch_object_set(&record.out).await?;
                let out = PathBuf::from(&record.out);
                blocking(move || parse_run(&report, &csv, &run, &out, None, Vec::new())).await?
            }
            None => {
                let out = PathBuf::from(&record.out);
                blocking(move || read_dir(&out, &run, None, Vec::new())).await?
            }
        };
        Ok(self.hold(loaded))
    }

    /// The report and the results CSV of the output set at `url`.
    async fn fetch_object_set(&self, url: &str) -> Result<(Vec<u8>, Vec<u8>), ResultsError> {
        let unreadable =
            |e: &dyn std::fmt::Display| ResultsError::Unreadable(format!("{url}: {e}"));
        let set = ObjectUrl::parse(url).map_err(|e| unreadable(&e))?;
        let store = open_store(&set, &self.stores).map_err(|e| unreadable(&e))?;
        let mut files = Vec::new();
        for name in [REPORT_FILE, RESULTS_FILE] {
            let object = set.join(name).map_err(|e| unreadable(&e))?;
            let got = match store.get(&object.path()).await {
                Ok(got) => got.bytes().await,
                Err(e) => Err(e),
            };
            files
                .push(got.map(|b| b.to_vec()).map_err(|e| {
                    ResultsError::Unreadable(format!("{object}: {}", describe(&e)))
                })?);
        }
        let csv = files.pop().unwrap_or_default();
        let report = files.pop().unwrap_or_default();
        Ok((report, csv))
    }

    /// Holds `loaded` as the most recently used run, dropping the least.
    fn hold(&self, loaded: LoadedRun) -> Arc<LoadedRun> {
        let loaded = Arc::new(loaded);
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        held.retain(|(id, _)| *id != loaded.report.run_id);
        held.push((loaded.report.run_id.clone(), loaded.clone()));
        if held.len() > HELD {
            held.remove(0);
        }
        loaded
    }

    fn held_run(&self, run: &str) -> Option<Arc<LoadedRun>> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let i = held.iter().position(|(id, _)| id == run)?;
        // Most recently used last.
        let entry = held.remove(i);
        let found = entry.1.clone();
        held.push(entry);
        Some(found)
    }

    /// The results of a kept run of the tenant of `of` (the run before it,
    /// for score changes).
    pub async fn load_kept(
        &self,
        of: &LoadedRun,
        run: &str,
    ) -> Result<Arc<LoadedRun>, ResultsError> {
        if let Some(found) = self.held_run(run) {
            return Ok(found);
        }
        let dir = of
            .kept
            .iter()
            .find(|k| k.run_id == run)
            .map(|k| k.dir.clone())
            .ok_or_else(|| ResultsError::Gone(run.to_owned()))?;
        let run_id = run.to_owned();
        let loaded = blocking(move || read_dir(&dir, &run_id, None, Vec::new())).await?;
        Ok(self.hold(loaded))
    }
}

/// `f` off the async runtime.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ResultsError> + Send + 'static,
) -> Result<T, ResultsError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ResultsError::Unreadable(format!("the reader stopped: {e}")))?
}

fn read_file(path: &Path) -> Result<Vec<u8>, ResultsError> {
    std::fs::read(path).map_err(|e| ResultsError::Unreadable(format!("{}: {e}", path.display())))
}

fn read_dir(
    dir: &Path,
    run: &str,
    previous: Option<String>,
    kept: Vec<KeptRun>,
) -> Result<LoadedRun, ResultsError> {
    let report = read_file(&dir.join(REPORT_FILE))?;
    let csv = read_file(&dir.join(RESULTS_FILE))?;
    parse_run(&report, &csv, run, dir, previous, kept)
}

/// A run's results from its report and CSV, read from `dir` (a folder or
/// a URL), when the report names `run`.
fn parse_run(
    report: &[u8],
    csv: &[u8],
    run: &str,
    dir: &Path,
    previous: Option<String>,
    kept: Vec<KeptRun>,
) -> Result<LoadedRun, ResultsError> {
    let report: RunReport = serde_json::from_slice(report).map_err(|e| {
        ResultsError::Unreadable(format!("{}: {e}", dir.join(REPORT_FILE).display()))
    })?;
    if report.run_id != run {
        return Err(ResultsError::Gone(run.to_owned()));
    }
    let as_of = chrono::NaiveDate::parse_from_str(&report.as_of, "%Y-%m-%d")
        .map_err(|e| ResultsError::Unreadable(format!("{REPORT_FILE}: as_of: {e}")))?;
    let rows = read_results(csv).map_err(|e| {
        ResultsError::Unreadable(format!("{}: {e}", dir.join(RESULTS_FILE).display()))
    })?;
    Ok(LoadedRun {
        results: RunResults { rows, as_of },
        report,
        dir: dir.to_owned(),
        previous,
        kept,
    })
}

/// The run's results from the history, when it holds them.
fn read_kept(
    record: &RunRecord,
    history: Option<&HistorySettings>,
) -> Result<Option<LoadedRun>, ResultsError> {
    let run = record.run_id.as_str();
    let Some(h) = history else {
        return Ok(None);
    };
    let runs = history::runs_of(&h.root, &record.tenant_id)
        .map_err(|e| ResultsError::Unreadable(e.to_string()))?;
    let Some(i) = runs.iter().position(|r| r.run_id == run) else {
        return Ok(None);
    };
    let previous = i.checked_sub(1).map(|p| runs[p].run_id.clone());
    let dir = runs[i].dir.clone();
    read_dir(&dir, run, previous, runs).map(Some)
}
