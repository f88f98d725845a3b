; NSIS additions for the EVVA Companion installer (electron-builder includes this
; file: nsis.include in electron-builder.yml). The installer is per-machine and
; elevated; reasons in docs/desktop.md, "One companion per PC" and "Packaging".
;
; Names shared with the app (tests/unit/packaging.test.ts checks them):
;   data folder  %ProgramData%\EVVA Companion   main/core/settings.ts defaultDataDir
;   Run value    ${APP_ID} = ru.evva.companion    main/desktop/identity.ts APP_ID
;   argument     --hidden                         main/desktop/login.ts HIDDEN_FLAG

!define EVVA_DATA "EVVA Companion"
!define EVVA_RUN_KEY "Software\Microsoft\Windows\CurrentVersion\Run"
!define EVVA_APPROVED_KEY "Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run"
!define EVVA_PROFILES_KEY "SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList"

!macro customInstall
  ; One data folder for the whole PC: every Windows user's app uses the one companion there.
  SetShellVarContext all
  CreateDirectory "$APPDATA\${EVVA_DATA}"
  ; Its ACL, by SID so it works on a Russian Windows: SYSTEM and Administrators full control,
  ; anyone signed in at the PC (INTERACTIVE, console or RDP) modify; nothing inherited from
  ; ProgramData (whose CREATOR OWNER rule would make each file its first writer's).
  ; Services running under other accounts get nothing: the device token is in this folder.
  nsExec::ExecToLog '"$SYSDIR\icacls.exe" "$APPDATA\${EVVA_DATA}" /inheritance:r /grant:r *S-1-5-18:(OI)(CI)F *S-1-5-32-544:(OI)(CI)F *S-1-5-4:(OI)(CI)M /T /Q'
  Pop $0
  ; Start at login for every user of the PC, hidden (straight to the tray). In the 64-bit view,
  ; where a 64-bit Electron reads it (getLoginItemSettings). An admin who disabled it in Task
  ; Manager keeps it disabled: StartupApproved is left as it is, also on updates.
  ${If} ${RunningX64}
    SetRegView 64
  ${EndIf}
  WriteRegStr HKLM "${EVVA_RUN_KEY}" "${APP_ID}" '"$INSTDIR\${APP_EXECUTABLE_FILENAME}" --hidden'
!macroend

; On uninstall (not on an update): the machine-wide start at login goes; then, only if the
; person says so, the data: the companion's folder (settings, pairing, outbox, logs) and
; Electron's own folders in every profile on the PC, not only the admin's running this.
!macro customUnInstall
  ${ifNot} ${isUpdated}
    ${If} ${RunningX64}
      SetRegView 64
    ${EndIf}
    DeleteRegValue HKLM "${EVVA_RUN_KEY}" "${APP_ID}"
    DeleteRegValue HKLM "${EVVA_APPROVED_KEY}" "${APP_ID}"
    DeleteRegValue HKCU "${EVVA_RUN_KEY}" "${APP_ID}"
    DeleteRegValue HKCU "${EVVA_APPROVED_KEY}" "${APP_ID}"
    MessageBox MB_YESNO|MB_ICONQUESTION "Удалить также настройки, привязку к заведению и журналы EVVA Companion (для всех пользователей этого компьютера)?$\r$\nЕсли вы собираетесь установить программу заново, нажмите «Нет»." /SD IDNO IDNO keep
      SetShellVarContext all
      RMDir /r "$APPDATA\${EVVA_DATA}"
      StrCpy $R0 0
      profiles:
        EnumRegKey $R1 HKLM "${EVVA_PROFILES_KEY}" $R0
        StrCmp $R1 "" profilesDone
        ReadRegStr $R2 HKLM "${EVVA_PROFILES_KEY}\$R1" "ProfileImagePath"
        ExpandEnvStrings $R2 $R2
        ${If} $R2 != ""
          RMDir /r "$R2\AppData\Roaming\${EVVA_DATA}"
          RMDir /r "$R2\AppData\Local\${EVVA_DATA}"
        ${EndIf}
        IntOp $R0 $R0 + 1
        Goto profiles
      profilesDone:
    keep:
  ${endIf}
!macroend
