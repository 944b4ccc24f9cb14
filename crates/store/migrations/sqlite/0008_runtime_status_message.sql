-- Why a runtime is in its status (its agent's reason for FAILED, for instance); set with
-- the Director's setRuntimeStatus (a Sextant extension).

ALTER TABLE runtimes ADD COLUMN status_message TEXT;
