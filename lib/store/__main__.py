from lib.store.cli import main

raise SystemExit(main())
