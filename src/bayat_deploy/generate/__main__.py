from bayat_deploy.generate.cli import main

raise SystemExit(main())
