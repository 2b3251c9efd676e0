//! The embedded index on disk. The index directory holds generations (`gen-<uuid>/`, each
//! a complete tantivy index) and a pointer file `CURRENT` naming the live one. A rebuild
//! fills a new generation and then renames a new pointer file over `CURRENT`, so a crash
//! leaves either the old or the new generation live, never a half-built one.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument};
use uuid::Uuid;

use super::schema::{self, Fields};
use crate::error::SearchError;
use crate::forgiving::Matching;
use crate::index::IndexBatch;
use crate::tokenizer::{OtopTokenizer, TOKENIZER_NAME};

/// The pointer file naming the live generation.
pub(crate) const POINTER_FILE: &str = "CURRENT";
const GENERATION_PREFIX: &str = "gen-";
/// Memory the single indexing thread may use before it flushes a segment.
const WRITER_HEAP_BYTES: usize = 32_000_000;

/// One generation: an open tantivy index with its reader and writer.
pub(crate) struct Generation {
    /// Directory name under the index directory.
    pub name: String,
    path: PathBuf,
    /// Reader, reloaded after every commit.
    pub reader: IndexReader,
    writer: Mutex<Option<IndexWriter<TantivyDocument>>>,
    /// The checkpoint of what searches see: the last commit's, set once the reader has been
    /// reloaded onto it (a commit is on disk a moment before searches see it).
    visible_checkpoint: Mutex<Option<String>>,
    /// Field handles.
    pub fields: Fields,
    retired: AtomicBool,
}

fn tantivy_error(error: tantivy::TantivyError) -> SearchError {
    SearchError::Tantivy(error)
}

impl Generation {
    /// Creates an empty generation `name` under `root`.
    pub fn create(root: &Path, name: &str) -> Result<Generation, SearchError> {
        let path = root.join(name);
        fs::create_dir_all(&path).map_err(|e| SearchError::io(&path, e))?;
        let (schema, fields) = schema::build();
        let index = Index::create_in_dir(&path, schema)?;
        Generation::ready(index, path, name, fields)
    }

    /// Opens generation `name`; `None` when it was written with another schema (it must
    /// then be rebuilt).
    pub fn open(root: &Path, name: &str) -> Result<Option<Generation>, SearchError> {
        let path = root.join(name);
        let index = Index::open_in_dir(&path)?;
        let (schema, fields) = schema::build();
        if index.schema() != schema {
            return Ok(None);
        }
        Generation::ready(index, path, name, fields).map(Some)
    }

    fn ready(
        index: Index,
        path: PathBuf,
        name: &str,
        fields: Fields,
    ) -> Result<Generation, SearchError> {
        index.tokenizers().register(TOKENIZER_NAME, OtopTokenizer);
        let writer = index.writer_with_num_threads(1, WRITER_HEAP_BYTES)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let visible_checkpoint = Mutex::new(index.load_metas()?.payload);
        Ok(Generation {
            name: name.to_string(),
            path,
            reader,
            writer: Mutex::new(Some(writer)),
            visible_checkpoint,
            fields,
            retired: AtomicBool::new(false),
        })
    }

    /// The checkpoint of the last commit that searches see. A reader waiting for a position
    /// (`?min_position=`) may trust it: the batch's documents are visible with it. The feed
    /// resumes from it too (at worst it applies the last batch again, which is idempotent).
    pub fn checkpoint(&self) -> Result<Option<String>, SearchError> {
        Ok(self
            .visible_checkpoint
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone())
    }

    fn writer(&self) -> Result<MutexGuard<'_, Option<IndexWriter<TantivyDocument>>>, SearchError> {
        match self.writer.lock() {
            Ok(guard) => Ok(guard),
            Err(poisoned) => {
                // A batch panicked half-way: drop whatever it left uncommitted.
                let mut guard = poisoned.into_inner();
                if let Some(writer) = guard.as_mut() {
                    writer.rollback()?;
                }
                self.writer.clear_poison();
                Ok(guard)
            }
        }
    }

    /// Applies a batch and commits it with its checkpoint as the commit payload, so both
    /// become durable in the same atomic `meta.json` write. On failure nothing of the
    /// batch stays.
    pub fn apply(&self, batch: IndexBatch, matching: Matching) -> Result<(), SearchError> {
        let mut guard = self.writer()?;
        let writer = guard
            .as_mut()
            .ok_or_else(|| SearchError::Background("the index is being replaced".into()))?;
        let checkpoint = batch.checkpoint.clone();
        if let Err(error) = write_and_commit(writer, &self.fields, batch, matching) {
            writer.rollback()?;
            return Err(error);
        }
        self.reader.reload()?;
        *self
            .visible_checkpoint
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(checkpoint);
        Ok(())
    }

    /// Marks the generation as replaced: its directory is removed when it is dropped.
    pub fn retire(&self) {
        self.retired.store(true, Ordering::SeqCst);
    }
}

fn write_and_commit(
    writer: &mut IndexWriter<TantivyDocument>,
    fields: &Fields,
    batch: IndexBatch,
    matching: Matching,
) -> Result<(), SearchError> {
    for listing in &batch.upserts {
        let document = schema::to_document(fields, listing, matching)?;
        writer.delete_term(fields.id_term(listing.id));
        writer.add_document(document)?;
    }
    for id in &batch.deletes {
        writer.delete_term(fields.id_term(*id));
    }
    let mut commit = writer.prepare_commit()?;
    commit.set_payload(&batch.checkpoint);
    commit.commit().map_err(tantivy_error)?;
    Ok(())
}

impl Drop for Generation {
    fn drop(&mut self) {
        if !self.retired.load(Ordering::SeqCst) {
            return;
        }
        // Stop the writer's threads before its files go.
        let writer = self
            .writer
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        drop(writer);
        if let Err(error) = fs::remove_dir_all(&self.path) {
            tracing::warn!(path = %self.path.display(), %error, "could not remove a replaced search index");
        }
    }
}

/// A fresh generation name.
pub(crate) fn new_name() -> String {
    format!("{GENERATION_PREFIX}{}", Uuid::now_v7().simple())
}

fn is_generation_name(name: &str) -> bool {
    name.strip_prefix(GENERATION_PREFIX)
        .is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The live generation named by the pointer file; `None` when there is no pointer file or
/// it does not hold a generation name.
pub(crate) fn read_pointer(root: &Path) -> Result<Option<String>, SearchError> {
    let path = root.join(POINTER_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => {
            let name = text.trim();
            if is_generation_name(name) {
                Ok(Some(name.to_string()))
            } else {
                tracing::warn!(path = %path.display(), "ignoring an unreadable search index pointer");
                Ok(None)
            }
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(SearchError::io(path, error)),
    }
}

/// Points `CURRENT` at generation `name`: writes a temporary file, syncs it, renames it over
/// the pointer and syncs the directory. Once the rename has happened the switch is made, so
/// a failure to sync the directory afterwards is only logged.
pub(crate) fn write_pointer(root: &Path, name: &str) -> Result<(), SearchError> {
    let temporary = root.join(format!("{POINTER_FILE}.{}.tmp", Uuid::new_v4().simple()));
    let pointer = root.join(POINTER_FILE);
    let write = || -> std::io::Result<()> {
        let mut file = fs::File::create(&temporary)?;
        file.write_all(name.as_bytes())?;
        file.sync_all()?;
        fs::rename(&temporary, &pointer)
    };
    if let Err(error) = write() {
        let _ = fs::remove_file(&temporary);
        return Err(SearchError::io(&pointer, error));
    }
    if let Err(error) = fs::File::open(root).and_then(|dir| dir.sync_all()) {
        tracing::warn!(path = %root.display(), %error, "could not sync the search index directory");
    }
    Ok(())
}

/// Removes generations other than `live` and stray temporary pointer files: leftovers of a
/// rebuild that crashed or of a replaced generation. Failures are only logged.
pub(crate) fn remove_stale(root: &Path, live: &str) {
    let entries = match fs::read_dir(root) {
        Ok(entries) => entries,
        Err(error) => {
            tracing::warn!(path = %root.display(), %error, "could not list the search index directory");
            return;
        }
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let result = if is_generation_name(&name) && name != live {
            fs::remove_dir_all(&path)
        } else if name.starts_with(POINTER_FILE) && name.ends_with(".tmp") {
            fs::remove_file(&path)
        } else {
            continue;
        };
        if let Err(error) = result {
            tracing::warn!(path = %path.display(), %error, "could not remove a stale search index file");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_generation_names_are_accepted_from_the_pointer() {
        assert!(is_generation_name(&new_name()));
        for bad in ["", "gen-", "../etc", "gen-../x", "gen-12/34", "CURRENT"] {
            assert!(!is_generation_name(bad), "{bad}");
        }
    }
}
