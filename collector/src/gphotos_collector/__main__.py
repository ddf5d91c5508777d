from gphotos_collector.cli import main

main()
