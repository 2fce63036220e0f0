"""Mail backends: each moves mail between one kind of server and the cache."""
