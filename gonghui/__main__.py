from gonghui.cli import main

main()
