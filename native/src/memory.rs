//! Native memory accounting: the library's global allocator counts the bytes it holds, so the
//! memory bound of docs/design.md can be measured (`NativeClient.nativeMemory()` in Java).
//! Two relaxed atomic operations per allocation; the sink allocates per batch, not per sample.
//!
//! Part of the released library, unlike the benchmarks' `prepare` export (feature
//! `bench-support`): the bound is a property of the library users run, and the JUnit suite checks
//! on that library that a closed client gives back every byte it held.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// The system allocator, counting.
pub struct CountingAllocator;

// SAFETY: every call is forwarded unchanged to `System`; only counters are added.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            grow(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            grow(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
            grow(new_size);
        }
        p
    }
}

fn grow(size: usize) {
    let now = CURRENT.fetch_add(size, Ordering::Relaxed) + size;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

/// Bytes the library holds now.
pub fn current() -> usize {
    CURRENT.load(Ordering::Relaxed)
}

/// The most bytes it held since the last [`reset_peak`] (or since it was loaded).
pub fn peak() -> usize {
    PEAK.load(Ordering::Relaxed)
}

/// Starts a new peak measurement from the current value.
pub fn reset_peak() {
    PEAK.store(current(), Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocations_are_counted_and_peaks_kept() {
        // Other test threads allocate and free concurrently: only what this test holds is
        // certain, so the checks are lower bounds on it.
        reset_peak();
        let v: Vec<u8> = Vec::with_capacity(1 << 20);
        assert!(current() >= 1 << 20);
        assert!(peak() >= 1 << 20);
        drop(v);
        assert!(peak() >= 1 << 20, "the peak is kept after the free");
    }
}
