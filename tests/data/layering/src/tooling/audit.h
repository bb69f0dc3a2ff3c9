/* Layering fixture: a tooling header. */
