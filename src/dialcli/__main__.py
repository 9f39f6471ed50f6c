from dialcli.cli import main

main()
