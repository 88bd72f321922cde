from fabbooking.cli.main import main

raise SystemExit(main())
