/* Layering fixture: a header of the master's own. */
