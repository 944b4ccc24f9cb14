-- When a client's pairing token was used (the Connector's `configuration` redeemed it), so
-- that a user who handed the token out can see that it was, and when (the Director's
-- `oneTimeTokenStatus`). The token row itself is deleted on redemption; the time is kept on
-- the client it paired. NULL: not used (or paired before this column existed).

ALTER TABLE system_auths ADD COLUMN token_used_at INTEGER;
