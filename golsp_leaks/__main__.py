from golsp_leaks.cli.main import main

raise SystemExit(main())
