"""Staff pages: thin views over the import services."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def home(request):
    return render(request, "imports/home.html")
