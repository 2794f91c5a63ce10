from deocclude.cli import main

raise SystemExit(main())
