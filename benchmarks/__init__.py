"""The benchmarks (`manage.py bench_import`, `manage.py bench_workers`) and the helpers that run the app in
child processes; apart from the product, which never imports them."""
