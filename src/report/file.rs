//! Report files netlab writes where the user says (JUnit, pcap, HTML): made
//! without following a symbolic link at the path, so a link planted at a
//! predictable name (`/tmp/report.xml`, a pcap's `<lab>-<nn>-<title>.pcap`)
//! cannot make netlab, often run as root, overwrite another file; only a
//! regular file is written over. Files that may hold a lab's plaintext
//! (pcaps) are made readable by their owner alone, and always made anew
//! (`O_EXCL`): writing into an existing file keeps that file's owner, who
//! in a shared directory such as `/tmp` could be another user reading the
//! recorded payload. An existing pcap is replaced only when it is a
//! regular file of the user netlab runs as.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Who may read a report file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readers {
    /// Anyone the umask lets (JUnit, HTML: meant to be shared).
    Everyone,
    /// The owner alone, whatever the umask (0600: pcaps, which can hold
    /// the lab's plaintext).
    Owner,
}

/// Creates `path` for writing, never through a symbolic link: for
/// `Everyone`, truncating the regular file there; for `Owner`, a new file,
/// replacing only a regular file of this user.
pub fn create(path: &Path, readers: Readers) -> io::Result<File> {
    match readers {
        Readers::Everyone => open(path, readers, true),
        Readers::Owner => create_private(path),
    }
}

/// A new file at `path`, mode 0600. An existing one is removed first if it
/// is this user's regular file; if another appears at the path meanwhile,
/// someone else is racing for it, and nothing is written.
fn create_private(path: &Path) -> io::Result<File> {
    for _ in 0..2 {
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
        {
            Ok(file) => {
                // A umask may have taken bits away; 0600 is what is meant.
                file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
                return Ok(file);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        match std::fs::symlink_metadata(path) {
            Ok(meta) => {
                refuse_unless_own(path, &meta)?;
                // Only this name goes: another hard link to the file keeps
                // its content.
                match std::fs::remove_file(path) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(format!(
        "{} was made again by someone else while netlab replaced it; nothing was written there",
        path.display()
    )))
}

/// An existing file netlab may replace: a regular file (not a link, FIFO or
/// device) of the user netlab runs as.
fn refuse_unless_own(path: &Path, meta: &std::fs::Metadata) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    if meta.file_type().is_symlink() {
        return Err(io::Error::other(format!(
            "{} is a symbolic link; netlab does not write report files through links",
            path.display()
        )));
    }
    if !meta.is_file() {
        return Err(io::Error::other(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    let me = effective_uid();
    if meta.uid() != me {
        return Err(io::Error::other(format!(
            "{} belongs to {}, not to {} that netlab runs as; netlab does not write into another user's file (remove it, or choose another directory)",
            path.display(),
            user_words(meta.uid()),
            user_words(me)
        )));
    }
    Ok(())
}

fn effective_uid() -> u32 {
    // SAFETY: geteuid takes nothing, cannot fail and touches no memory.
    unsafe { libc::geteuid() }
}

/// `uid 65534 (nobody)`: the name from /etc/passwd when it has one.
fn user_words(uid: u32) -> String {
    let name = std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|line| {
                let mut fields = line.split(':');
                let name = fields.next()?;
                (fields.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_owned())
            })
        });
    match name {
        Some(name) => format!("uid {uid} ({name})"),
        None => format!("uid {uid}"),
    }
}

/// Whether `path` could be created as `create` would, without changing an
/// existing file: found out before the checks run, so a report that cannot
/// be written costs no lab. A file made here is removed again.
pub fn check_writable(path: &Path, readers: Readers) -> io::Result<()> {
    let existing = std::fs::symlink_metadata(path);
    if readers == Readers::Owner
        && let Ok(meta) = &existing
    {
        return refuse_unless_own(path, meta);
    }
    let existed = existing.is_ok();
    open(path, readers, false)?;
    if !existed {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

fn open(path: &Path, readers: Readers, truncate: bool) -> io::Result<File> {
    let mode = match readers {
        Readers::Everyone => 0o644,
        Readers::Owner => 0o600,
    };
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(truncate)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => io::Error::other(format!(
                "{} is a symbolic link; netlab does not write report files through links",
                path.display()
            )),
            _ => e,
        })?;
    // A FIFO or device at the path is no report file (O_NONBLOCK kept the
    // open of a FIFO from hanging).
    if !file.metadata()?.is_file() {
        return Err(io::Error::other(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_report_file_is_not_written_through_a_symbolic_link() {
        let dir = tempfile::tempdir().expect("tmp");
        let target = dir.path().join("precious");
        std::fs::write(&target, "keep me").expect("write");
        let link = dir.path().join("report.xml");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        for readers in [Readers::Everyone, Readers::Owner] {
            let err = create(&link, readers).expect_err("refused");
            assert!(err.to_string().contains("is a symbolic link"), "{err}");
            check_writable(&link, readers).expect_err("refused");
        }
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "keep me");
    }

    #[test]
    fn a_pcap_is_readable_by_its_owner_alone_also_when_it_existed() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("a.pcap");
        std::fs::write(&path, "old").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let mut f = create(&path, Readers::Owner).expect("create");
        f.write_all(b"new").expect("write");
        let meta = std::fs::metadata(&path).expect("stat");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "new");
        let fresh = dir.path().join("b.pcap");
        create(&fresh, Readers::Owner).expect("create");
        assert_eq!(
            std::fs::metadata(&fresh)
                .expect("stat")
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    }

    #[test]
    fn a_pcap_replaces_the_user_s_file_and_never_writes_into_its_inode() {
        let dir = tempfile::tempdir().expect("tmp");
        let kept = dir.path().join("kept");
        std::fs::write(&kept, "keep me").expect("write");
        let path = dir.path().join("a.pcap");
        std::fs::hard_link(&kept, &path).expect("link");
        create(&path, Readers::Owner)
            .expect("create")
            .write_all(b"new")
            .expect("write");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "new");
        assert_eq!(std::fs::read_to_string(&kept).expect("read"), "keep me");
    }

    #[test]
    fn a_pcap_is_never_written_into_a_file_that_is_not_the_user_s() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().expect("tmp");
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).expect("mkdir");
        let err = create(&sub, Readers::Owner).expect_err("a directory");
        assert!(err.to_string().ends_with("is not a regular file"), "{err}");
        check_writable(&sub, Readers::Owner).expect_err("a directory");
        if effective_uid() != 0 {
            // Only root can give a file away; the rest needs root.
            return;
        }
        // Another user's file in a sticky directory, as in /tmp.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777))
            .expect("chmod");
        let theirs = dir.path().join("lab-01-x.pcap");
        std::fs::write(&theirs, "theirs").expect("write");
        std::os::unix::fs::chown(&theirs, Some(65534), None).expect("chown");
        let err = create(&theirs, Readers::Owner).expect_err("refused");
        let message = err.to_string();
        assert!(
            message.starts_with(&format!("{} belongs to uid 65534", theirs.display())),
            "{message}"
        );
        assert!(
            message.contains("netlab does not write into another user's file"),
            "{message}"
        );
        check_writable(&theirs, Readers::Owner).expect_err("refused before the checks");
        let meta = std::fs::metadata(&theirs).expect("stat");
        assert_eq!(meta.uid(), 65534);
        assert_eq!(std::fs::read_to_string(&theirs).expect("read"), "theirs");
    }

    #[test]
    fn checking_leaves_no_file_and_no_change() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("junit.xml");
        check_writable(&path, Readers::Everyone).expect("writable");
        assert!(!path.exists());
        std::fs::write(&path, "old").expect("write");
        check_writable(&path, Readers::Everyone).expect("writable");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "old");
        check_writable(dir.path(), Readers::Everyone).expect_err("a directory");
    }
}
