"""What ``nono run`` keeps in the parent process: proxy, supervisor, rollback, audit, credentials."""
