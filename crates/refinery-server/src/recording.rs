//! The server's [`Recorder`]: its events and attempts go to its history pool, its plans
//! to the plan files and the store's `plans` table through the same
//! [`refinery_store::recorder::store_plan`] the binary uses, so a plan made from an upload
//! and one made by `refinery --input …` are listed alike.

use refinery_store::recorder::{plans_dir, store_plan};
use refinery_store::{Attempt, Event, PlanRecord, RecordError, Recorder};

use crate::AppState;

impl Recorder for AppState {
    fn event(&self, event: &Event) -> Result<(), RecordError> {
        self.history.with(|h| h.record_event(event))?;
        Ok(())
    }

    fn attempt(&self, attempt: &Attempt) -> Result<(), RecordError> {
        self.history.with(|h| h.record_attempt(attempt))?;
        Ok(())
    }

    /// `latest.json` stays the binary's: the server's plans do not replace it.
    fn plan(&self, plan: &PlanRecord) -> Result<(), RecordError> {
        store_plan(
            Some(&*self.store),
            &plans_dir(&self.config.cache),
            plan,
            false,
        )
    }
}
