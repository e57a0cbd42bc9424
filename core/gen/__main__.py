from gen.cli.main import main

main()
