-- 0006: refused API requests counted per client address and window (shared by every
-- server process), so that their events are rate limited and a guessing address is
-- throttled. A window's row is deleted (with an auth.suppressed event if it counted
-- denials it did not record) once the window has ended.
CREATE TABLE coord_denials (
    address      text NOT NULL,
    window_start timestamptz NOT NULL,
    window_end   timestamptz NOT NULL,
    denials      integer NOT NULL DEFAULT 0,
    failures     integer NOT NULL DEFAULT 0,
    recorded     integer NOT NULL DEFAULT 0,
    PRIMARY KEY (address, window_start)
);
CREATE INDEX coord_denials_window_end ON coord_denials (window_end);
