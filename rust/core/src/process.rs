//! Processes: whether one that holds a claim in shared memory is still alive.
#![allow(unsafe_code)]

/// Whether process `pid` exists (a process of another user counts). Where state is never
/// shared between processes (outside Linux), every claimer is this process: alive.
pub(crate) fn alive(pid: u64) -> bool {
    #[cfg(target_os = "linux")]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return false;
        };
        // SAFETY: signal 0 only checks that the process exists.
        let sent = unsafe { libc::kill(pid, 0) };
        sent == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pid;
        true
    }
}
