/* Layering fixture: a base header that everyone may include. */
