//! Report files netlab writes where the user says (JUnit, pcap, HTML): made
//! without following a symbolic link at the path, so a link planted at a
//! predictable name (`/tmp/report.xml`, a pcap's `<lab>-<nn>-<title>.pcap`)
//! cannot make netlab, often run as root, overwrite another file; only a
//! regular file is written over. Files that may hold a lab's plaintext
//! (pcaps) are made readable by their owner alone.

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

/// Creates `path` (or truncates the regular file there) for writing, never
/// through a symbolic link.
pub fn create(path: &Path, readers: Readers) -> io::Result<File> {
    let file = open(path, readers, true)?;
    if readers == Readers::Owner {
        // An existing file keeps its mode on open: make it the owner's.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

/// Whether `path` could be created as `create` would, without changing an
/// existing file: found out before the checks run, so a report that cannot
/// be written costs no lab. A file made here is removed again.
pub fn check_writable(path: &Path, readers: Readers) -> io::Result<()> {
    let existed = std::fs::symlink_metadata(path).is_ok();
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
