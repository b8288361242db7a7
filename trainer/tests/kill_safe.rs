//! Training survives being killed: a run SIGKILLed at several moments (one of them inside a
//! checkpoint write) or stopped with Ctrl-C, then continued with `--resume` alone, ends with the
//! same bytes as a run never interrupted, and its log holds exactly one line per epoch.

mod common;
use common::{assert_clean_failure, assert_success, run, s, sample, scratch, BIN};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const EPOCHS: usize = 40;

/// The recipe of the issue's check: batch 64, 40 epochs; checkpoints every 3 epochs.
fn start(run_dir: &Path, recipe: &Path) -> Child {
    spawn(&[
        "train",
        "--embeddings",
        s(&sample()),
        "--out",
        s(run_dir),
        "--train-config",
        s(recipe),
        "--checkpoint-every",
        "3",
        "--eval-queries",
        "100",
    ])
}

/// `--resume` and nothing else but the run directory, as a user continues a killed run.
fn resume(run_dir: &Path) -> Child {
    spawn(&[
        "train",
        "--embeddings",
        s(&sample()),
        "--out",
        s(run_dir),
        "--resume",
        "--checkpoint-every",
        "3",
        "--eval-queries",
        "100",
    ])
}

fn spawn(args: &[&str]) -> Child {
    Command::new(BIN)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start rqvae-train")
}

fn recipe(dir: &Path) -> PathBuf {
    let path = dir.join("recipe.json");
    std::fs::write(
        &path,
        format!(r#"{{"epochs": {EPOCHS}, "batch_size": 64, "seed": 7}}"#),
    )
    .unwrap();
    path
}

fn log_lines(run_dir: &Path) -> usize {
    std::fs::read_to_string(run_dir.join("log.jsonl"))
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

/// Polls every millisecond until `ready` holds. Panics if the child ends first or a minute
/// passes.
fn wait_for(child: &mut Child, what: &str, ready: impl Fn() -> bool) {
    let started = Instant::now();
    while !ready() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the run ended ({status}) before {what}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no {what} within a minute"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// SIGKILLs `child` once `ready` holds.
fn kill_when(mut child: Child, what: &str, ready: impl Fn() -> bool) {
    wait_for(&mut child, what, ready);
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "SIGKILL ends the run: {status}");
}

fn finish(child: Child) -> String {
    let out = child.wait_with_output().unwrap();
    assert_success(&out);
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every line of a log with its timing removed, after checking there is one per epoch in order.
fn epochs_of(run_dir: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(run_dir.join("log.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("every log line is whole JSON"))
        .collect();
    assert_eq!(lines.len(), EPOCHS, "one log line per epoch:\n{text}");
    lines
        .into_iter()
        .enumerate()
        .map(|(i, mut line)| {
            assert_eq!(line["epoch"].as_u64(), Some(i as u64 + 1), "log order");
            line.as_object_mut().unwrap().remove("seconds");
            line
        })
        .collect()
}

fn assert_same_run(a: &Path, b: &Path) {
    let (wa, wb) = (
        std::fs::read(a.join("model.safetensors")).unwrap(),
        std::fs::read(b.join("model.safetensors")).unwrap(),
    );
    assert!(
        wa == wb,
        "{} and {} differ: a resumed run must end bit for bit where an uninterrupted one does",
        a.display(),
        b.display()
    );
    assert_eq!(epochs_of(a), epochs_of(b), "the logs' losses differ");
}

/// A scratch directory, the recipe in it, and the uninterrupted run to compare against.
fn uninterrupted(name: &str) -> (PathBuf, PathBuf, PathBuf) {
    let dir = scratch(name);
    let recipe = recipe(&dir);
    let whole = dir.join("whole");
    finish(start(&whole, &recipe));
    (dir, recipe, whole)
}

#[test]
fn killed_three_times_and_resumed_ends_bit_identical() {
    let (dir, recipe, whole) = uninterrupted("kill-safe");

    let killed = dir.join("killed");
    let ckpt = killed.join("checkpoint");
    let tmp = killed.join("checkpoint.tmp");
    // 1: between checkpoints (the last one was at epoch 3, the log is at 5).
    kill_when(start(&killed, &recipe), "epoch 5", || {
        log_lines(&killed) >= 5
    });
    // 2: inside a checkpoint write, once its temporary directory exists.
    kill_when(resume(&killed), "a checkpoint write", || tmp.exists());
    // 3: right after a checkpoint, before the next epoch ends.
    kill_when(resume(&killed), "epoch 19", || log_lines(&killed) >= 19);
    // A kill between the two renames of a save leaves only the previous checkpoint, as
    // `checkpoint.old`, and maybe a half-written `checkpoint.tmp`: resume must restore it.
    std::fs::rename(&ckpt, killed.join("checkpoint.old")).unwrap();
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::write(tmp.join("model.safetensors"), b"half a fi").unwrap();
    let stderr = finish(resume(&killed));
    assert!(stderr.contains("resuming"), "{stderr}");
    assert!(
        !tmp.exists() && !killed.join("checkpoint.old").exists(),
        "leftovers of the killed saves are cleaned up"
    );
    assert_same_run(&whole, &killed);
}

#[test]
fn ctrl_c_then_resume_ends_bit_identical() {
    let (dir, recipe, whole) = uninterrupted("ctrl-c");
    let stopped = dir.join("stopped");
    let mut child = start(&stopped, &recipe);
    wait_for(&mut child, "epoch 7", || log_lines(&stopped) >= 7);
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("continue with --resume"), "{stderr}");

    // Another recipe on resume is refused, naming what may change.
    let sample = sample();
    let other = [
        "train",
        "--embeddings",
        s(&sample),
        "--out",
        s(&stopped),
        "--resume",
        "--batch-size",
        "32",
    ];
    assert_clean_failure(&run(&other), &["only the number of epochs may change"]);
    finish(resume(&stopped));
    assert_same_run(&whole, &stopped);
}
