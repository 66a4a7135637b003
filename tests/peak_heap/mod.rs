//! Peak heap use per thread, for the parser tests (`tests/parsers.rs`, `tests/parsers_fuzz.rs`).
//!
//! A test binary installs the counting allocator with
//! `#[global_allocator] static ALLOC: peak_heap::Counting = peak_heap::Counting;` and measures a
//! parse with [`peak_heap`]. Counting is per thread, so tests running in parallel do not disturb
//! each other. Any single allocation above [`HARD_CAP`] is refused (the process aborts with
//! "memory allocation of N bytes failed"), so that a loader that trusts a size it read fails at
//! once instead of exhausting a shared machine.
#![allow(unsafe_code)] // the `unsafe impl GlobalAlloc` below; the library itself forbids unsafe code

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Largest single allocation a test binary with this allocator may make.
pub(crate) const HARD_CAP: usize = 2 << 30;

/// The counting allocator (wraps [`System`]).
pub(crate) struct Counting;

thread_local! {
    // Const-initialised and without destructors: touching them never allocates.
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn track(delta: isize) {
    if ARMED.with(Cell::get) {
        let live = LIVE.with(|l| {
            l.set(l.get() + delta);
            l.get()
        });
        PEAK.with(|p| p.set(p.get().max(live)));
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, or returns
// null (which every caller must handle) for a request above the cap; counting touches only
// const thread-locals.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > HARD_CAP {
            return std::ptr::null_mut();
        }
        track(layout.size() as isize);
        // SAFETY: forwarded as received.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > HARD_CAP {
            return std::ptr::null_mut();
        }
        track(layout.size() as isize);
        // SAFETY: forwarded as received.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > HARD_CAP {
            return std::ptr::null_mut();
        }
        track(new_size as isize - layout.size() as isize);
        // SAFETY: forwarded as received.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        track(-(layout.size() as isize));
        // SAFETY: forwarded as received.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Runs `f` and returns its result with the most heap it held at once (bytes allocated during
/// `f` and not yet freed), on this thread.
pub(crate) fn peak_heap<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LIVE.with(|l| l.set(0));
    PEAK.with(|p| p.set(0));
    ARMED.with(|a| a.set(true));
    let out = f();
    ARMED.with(|a| a.set(false));
    (out, PEAK.with(Cell::get).max(0) as usize)
}
