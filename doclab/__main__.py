from doclab.cli import main

raise SystemExit(main())
