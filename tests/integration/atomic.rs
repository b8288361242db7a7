//! `rqvae::atomic`: a result is there whole or not at all, and no temporary file outlives a write.

use crate::common::unique_temp_path;
use rqvae::atomic::{write_atomic, write_atomic_with, AtomicFile};
use std::io::Write;

fn names_in(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_finished_write_replaces_the_old_result_and_leaves_only_it() {
    let dir = unique_temp_path("atomic-finished");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ids.jsonl");
    std::fs::write(&path, b"old").unwrap();
    write_atomic_with(&path, |out| {
        out.write_all(b"new ")?;
        out.write_all(b"result")
    })
    .unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"new result");
    assert_eq!(names_in(&dir), ["ids.jsonl"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_write_that_fails_half_way_keeps_the_old_result_and_leaves_no_partial_file() {
    let dir = unique_temp_path("atomic-failed");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("table.parquet");
    write_atomic(&path, b"the good table").unwrap();
    let failed = write_atomic_with(&path, |out| {
        out.write_all(b"half a table")?;
        Err(std::io::Error::other("the disk is full"))
    });
    assert_eq!(failed.unwrap_err().to_string(), "the disk is full");
    // Dropped unfinished (a panic or an early return), the file is not written either.
    let mut unfinished = AtomicFile::create(&path).unwrap();
    unfinished.write_all(b"more").unwrap();
    drop(unfinished);
    assert_eq!(std::fs::read(&path).unwrap(), b"the good table");
    assert_eq!(names_in(&dir), ["table.parquet"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_path_without_a_file_name_is_refused_before_anything_is_written() {
    let err = write_atomic(std::path::Path::new("/"), b"x").unwrap_err();
    assert!(err.to_string().contains("not a file path"), "{err}");
}
