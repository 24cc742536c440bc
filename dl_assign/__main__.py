from dl_assign.cli import main

raise SystemExit(main())
