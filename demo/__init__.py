"""`make demo`: the whole deployment on one booted Debian test host, against the fakes."""
