//! Where a shard's bytes come from: a local file below the input roots, or
//! an object (`s3://…`, `az://…`) read by byte ranges, so a worker needs no
//! shared volume. Both are read blocking, from the worker's blocking pool;
//! an object's ranges are fetched on the worker's runtime.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;

use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use rapport_backend::object_url::{io_error, is_object_url, open_store};
use rapport_backend::DataRoots;

/// An open input: a file, or an object and the next offset to read.
pub enum InputSource {
    /// A regular file below the input roots.
    File(File),
    /// An object below the input roots.
    Object(ObjectInput),
}

/// An object read by ranges.
pub struct ObjectInput {
    store: Arc<dyn ObjectStore>,
    path: ObjectPath,
    url: String,
    size: u64,
    position: u64,
    runtime: tokio::runtime::Handle,
}

impl InputSource {
    /// Opens `location` (a path or an object URL) within `roots`.
    pub fn open(roots: &DataRoots, location: &str) -> std::io::Result<InputSource> {
        if !is_object_url(location) {
            return roots
                .open_input(Path::new(location))
                .map(InputSource::File)
                .map_err(std::io::Error::other);
        }
        let url = roots
            .input_object(location)
            .map_err(std::io::Error::other)?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            std::io::Error::other("an object is read from within the worker's runtime")
        })?;
        let store = open_store(&url, roots.stores()).map_err(std::io::Error::other)?;
        InputSource::object(store, url.path(), location, runtime)
    }

    /// The object at `path` of `store`, named `url` in errors, read on
    /// `runtime`.
    pub fn object(
        store: Arc<dyn ObjectStore>,
        path: ObjectPath,
        url: &str,
        runtime: tokio::runtime::Handle,
    ) -> std::io::Result<InputSource> {
        let meta = runtime
            .block_on(store.head(&path))
            .map_err(|e| object_error(url, &e))?;
        Ok(InputSource::Object(ObjectInput {
            store,
            path,
            url: url.to_owned(),
            size: meta.size,
            position: 0,
            runtime,
        }))
    }

    /// Moves to byte `offset`.
    pub fn seek(&mut self, offset: u64) -> std::io::Result<()> {
        match self {
            InputSource::File(file) => file.seek(SeekFrom::Start(offset)).map(|_| ()),
            InputSource::Object(object) => {
                object.position = offset;
                Ok(())
            }
        }
    }

    /// Appends up to `want` bytes to `buffer`; returns true when the input
    /// ended first.
    pub fn read_more(&mut self, buffer: &mut Vec<u8>, want: usize) -> std::io::Result<bool> {
        match self {
            InputSource::File(file) => {
                let read = file.take(want as u64).read_to_end(buffer)?;
                Ok(read < want)
            }
            InputSource::Object(object) => object.read_more(buffer, want),
        }
    }
}

impl ObjectInput {
    fn read_more(&mut self, buffer: &mut Vec<u8>, want: usize) -> std::io::Result<bool> {
        let end = self.size.min(self.position.saturating_add(want as u64));
        if self.position >= end {
            return Ok(true);
        }
        let bytes = self
            .runtime
            .block_on(self.store.get_range(&self.path, self.position..end))
            .map_err(|e| object_error(&self.url, &e))?;
        buffer.extend_from_slice(&bytes);
        self.position += bytes.len() as u64;
        Ok((bytes.len() as u64) < want as u64)
    }
}

fn object_error(url: &str, error: &object_store::Error) -> std::io::Error {
    let error = io_error(error);
    std::io::Error::new(error.kind(), format!("{url}: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    use object_store::memory::InMemory;

    #[test]
    fn an_object_is_read_by_ranges_from_any_offset() {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let text: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        let path = ObjectPath::from("a/b");
        runtime
            .block_on(store.put(&path, text.clone().into()))
            .expect("put");
        for (start, want) in [(0, 7), (3, 100), (999, 5), (0, 5000)] {
            let mut source = InputSource::object(
                store.clone(),
                path.clone(),
                "mem://a/b",
                runtime.handle().clone(),
            )
            .expect("opened");
            source.seek(start).expect("seek");
            let mut read = Vec::new();
            while !source.read_more(&mut read, want).expect("read") {}
            assert_eq!(read, text[start as usize..], "from {start} by {want}");
        }
        let missing = InputSource::object(
            store,
            ObjectPath::from("nope"),
            "mem://nope",
            runtime.handle().clone(),
        );
        let err = missing.err().expect("missing");
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
        assert!(
            err.to_string().starts_with("mem://nope: not found"),
            "{err}"
        );
    }
}
