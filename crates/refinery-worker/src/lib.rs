//! The build worker of the s390x Wheel Refinery (`refinery worker`, and the control
//! plane's in-process drain), kept apart from the HTTP server so that a worker host
//! carries no server framework.
//!
//! * [`worker`]: claims a job, heartbeats while it builds, streams the build log,
//!   publishes the wheel and completes the job (every call fenced by the job's attempt);
//!   jobs come from a [`worker::JobSource`].
//! * [`remote`]: the [`worker::JobSource`] of a remote control plane, speaking the worker
//!   protocol of [`refinery_contract`] over HTTP.
//! * [`shutdown`]: SIGTERM and Ctrl-C hand the running job back before the worker exits.
//! * [`publish`]: putting a wheel into the index (content-addressed store + `published`
//!   row), shared with the server's upload endpoints.

mod job_recorder;
pub mod publish;
pub mod remote;
pub mod shutdown;
pub mod worker;
