//! Order across a change of the active lanes (`Router`): a change starts a new generation.
//! While parts of the old generation are pending, new parts for lanes that may receive moved
//! series are held back (on growth: the new lanes; on shrinking: every lane) and released, in
//! order, when the last old part is done. Only one change is in progress at a time.

use crate::error::{Error, Result};
use crate::part::Part;
use crossbeam_channel::Sender;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Routes parts to the lanes' queues, holding back those that must wait for a change of the
/// lane count to settle.
pub struct Router {
    state: Mutex<RouterState>,
    // generation << 8 | active lanes (at most 255), readable without the lock.
    word: AtomicU64,
}

struct RouterState {
    lanes: Vec<Sender<Part>>,
    generation: u64,
    // Parts not yet done, by generation parity.
    pending: [usize; 2],
    // While the previous generation has pending parts, new parts for lanes >= held_from wait.
    held_from: usize,
    held: Vec<(usize, Part)>,
}

impl Router {
    /// Routes to `lanes`, `active` of them in use at first.
    pub fn new(lanes: Vec<Sender<Part>>, active: usize) -> Router {
        Router {
            word: AtomicU64::new(active.clamp(1, lanes.len().clamp(1, 255)) as u64),
            state: Mutex::new(RouterState {
                lanes,
                generation: 0,
                pending: [0, 0],
                held_from: 0,
                held: Vec::new(),
            }),
        }
    }

    /// Lanes in use.
    pub fn active(&self) -> usize {
        (self.word.load(Ordering::Relaxed) & 0xff) as usize
    }

    /// `generation << 8 | active lanes`: ordered, so that of two reports the later generation
    /// wins (completions of different lanes can arrive out of order).
    pub fn lanes_word(&self) -> u64 {
        self.word.load(Ordering::Relaxed)
    }

    /// Whether parts of the previous generation are still pending (a change is settling).
    pub fn settling(&self) -> bool {
        let s = self.state.lock();
        s.pending[((s.generation + 1) % 2) as usize] > 0
    }

    /// Switches to `wanted` lanes if it differs and no earlier change is still settling;
    /// returns the lanes in use.
    pub fn resize(&self, wanted: usize) -> usize {
        let mut s = self.state.lock();
        let active = self.active();
        let wanted = wanted.clamp(1, s.lanes.len().clamp(1, 255));
        let previous = (s.generation + 1) % 2;
        if wanted == active || s.pending[previous as usize] > 0 || !s.held.is_empty() {
            return active;
        }
        s.generation += 1;
        // The new generation's slot is the settled one before the last: zero.
        s.held_from = if wanted > active { active } else { 0 };
        self.word
            .store(s.generation << 8 | wanted as u64, Ordering::Relaxed);
        wanted
    }

    /// Queues `parts` (lane, part) in order, as parts of the current generation.
    pub fn dispatch(&self, parts: impl IntoIterator<Item = (usize, Part)>) -> Result<()> {
        let mut s = self.state.lock();
        if s.lanes.is_empty() {
            return Err(Error::Closed);
        }
        let current = (s.generation % 2) as usize;
        let settling = s.pending[1 - current] > 0;
        for (lane, mut part) in parts {
            part.generation = s.generation;
            s.pending[current] += 1;
            if settling && lane >= s.held_from {
                s.held.push((lane, part));
            } else {
                let _ = s.lanes[lane].send(part);
            }
        }
        Ok(())
    }

    /// A part of `generation` was split in two: one more to wait for.
    pub fn part_split(&self, generation: u64) {
        self.state.lock().pending[(generation % 2) as usize] += 1;
    }

    /// A part of `generation` is done; the last part of a previous generation releases what
    /// was held.
    pub fn part_done(&self, generation: u64) {
        let mut s = self.state.lock();
        let slot = (generation % 2) as usize;
        debug_assert!(s.pending[slot] > 0, "a part done twice");
        s.pending[slot] = s.pending[slot].saturating_sub(1);
        if generation != s.generation && s.pending[slot] == 0 {
            let held = std::mem::take(&mut s.held);
            for (lane, part) in held {
                if let Some(tx) = s.lanes.get(lane) {
                    let _ = tx.send(part);
                }
            }
        }
    }

    /// Disconnects every lane (their threads end) and abandons held parts.
    pub fn close(&self) {
        let mut s = self.state.lock();
        s.lanes.clear();
        s.held.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::part::{Ending, PartDone};
    use crossbeam_channel::{unbounded, Receiver};
    use std::sync::Arc;

    struct Nobody;
    impl PartDone for Nobody {
        fn part_done(&self, _: &Ending) {}
        fn part_split(&self) {}
    }

    fn part(generation: u64, tag: u64) -> Part {
        Part {
            bytes: Vec::new(),
            samples: tag,
            owner: Arc::new(Nobody),
            generation,
        }
    }

    fn router(lanes: usize, active: usize) -> (Router, Vec<Receiver<Part>>) {
        let (tx, rx): (Vec<_>, Vec<_>) = (0..lanes).map(|_| unbounded()).unzip();
        (Router::new(tx, active), rx)
    }

    fn queued(rx: &Receiver<Part>) -> Vec<u64> {
        rx.try_iter().map(|p| p.samples).collect()
    }

    #[test]
    fn growing_holds_only_the_new_lanes_until_the_old_generation_is_done() {
        let (r, rx) = router(4, 2);
        r.dispatch([(0, part(0, 1)), (1, part(0, 2))]).unwrap();
        assert_eq!(r.lanes_word(), 2);
        assert_eq!(r.resize(4), 4);
        assert_eq!(r.lanes_word(), 1 << 8 | 4);
        r.dispatch((0..4).map(|lane| (lane, part(1, 10 + lane as u64))))
            .unwrap();
        // Old lanes flow at once; new lanes wait.
        assert_eq!(queued(&rx[0]), [1, 10]);
        assert_eq!(queued(&rx[1]), [2, 11]);
        assert!(queued(&rx[2]).is_empty() && queued(&rx[3]).is_empty());
        // No other change while this one settles.
        assert_eq!(r.resize(1), 4);
        r.part_done(0);
        assert!(queued(&rx[2]).is_empty());
        r.part_done(0);
        assert_eq!(queued(&rx[2]), [12]);
        assert_eq!(queued(&rx[3]), [13]);
        // Settled once the held parts are queued: parts done of the current generation do not
        // block a change.
        r.dispatch([(3, part(1, 20))]).unwrap();
        assert_eq!(queued(&rx[3]), [20]);
        assert_eq!(r.resize(1), 1);
    }

    #[test]
    fn shrinking_holds_every_lane_and_releases_in_order() {
        let (r, rx) = router(3, 3);
        r.dispatch([(2, part(0, 1))]).unwrap();
        assert_eq!(r.resize(1), 1);
        r.dispatch([(0, part(1, 2))]).unwrap();
        r.dispatch([(0, part(1, 3))]).unwrap();
        assert!(queued(&rx[0]).is_empty());
        assert_eq!(queued(&rx[2]), [1]);
        r.part_done(0);
        assert_eq!(queued(&rx[0]), [2, 3]);
        r.part_done(1);
        r.part_done(1);
        r.close();
        assert!(r.dispatch([(0, part(1, 4))]).is_err());
    }
}
