from memos_server.cli import main

main()
