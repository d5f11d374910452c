from bayat_deploy.cli import main

raise SystemExit(main())
