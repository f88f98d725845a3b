; NSIS additions for the EVVA Companion installer (electron-builder includes this file).
; On uninstall (not on an update), ask whether to remove the data folder too:
; settings, the pairing with the venue and the logs. The default keeps them.
!macro customUnInstall
  ${ifNot} ${isUpdated}
    MessageBox MB_YESNO|MB_ICONQUESTION "Удалить также настройки, привязку к заведению и журналы EVVA Companion?$\r$\nЕсли вы собираетесь установить программу заново, нажмите «Нет»." /SD IDNO IDNO keep
      SetShellVarContext current
      RMDir /r "$APPDATA\EVVA Companion"
      SetShellVarContext all
    keep:
  ${endIf}
!macroend
